-- Users and their roles. Usernames are stored lowercased; the "C"
-- collation orders them bytewise, as the keyset pagination expects, and
-- lets the index serve prefix searches.
CREATE TABLE auth_users (
	id TEXT PRIMARY KEY,
	username TEXT NOT NULL COLLATE "C",
	name TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	phone TEXT NOT NULL DEFAULT '',
	confirmed BOOLEAN NOT NULL DEFAULT FALSE,
	disabled BOOLEAN NOT NULL DEFAULT FALSE,
	-- argon2id PHC string; empty when no password is set.
	password_hash TEXT NOT NULL DEFAULT '',
	password_changed_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX auth_users_username ON auth_users (username);

CREATE TABLE auth_user_roles (
	user_id TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
	role TEXT NOT NULL,
	PRIMARY KEY (user_id, role)
);
CREATE INDEX auth_user_roles_role ON auth_user_roles (role, user_id);
