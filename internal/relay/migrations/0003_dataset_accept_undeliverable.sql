-- A dataset without a schema has each record checked against its routes'
-- columns at ingest; accept_undeliverable takes such records anyway and
-- leaves them to be dead-lettered on the routes that cannot take them.
ALTER TABLE relay_datasets ADD COLUMN accept_undeliverable BOOLEAN NOT NULL DEFAULT FALSE;
