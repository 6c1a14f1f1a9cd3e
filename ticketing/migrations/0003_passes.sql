-- The signed QR payload the gate made for each ticket and staff member:
-- what their QR code shows and the gates verify.
ALTER TABLE tickets ADD COLUMN pass TEXT NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN pass TEXT NOT NULL DEFAULT '';
