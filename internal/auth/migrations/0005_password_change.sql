-- A user whose password was generated (the first admin's, or one an admin
-- reset) must choose their own at the next sign-in.
ALTER TABLE auth_users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
