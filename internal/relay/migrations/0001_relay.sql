-- The relay's model. Lists and mappings are JSON text; times are Unix
-- milliseconds.
CREATE TABLE relay_datasets (
	name TEXT PRIMARY KEY,
	topic TEXT NOT NULL,
	key_fields TEXT NOT NULL,
	json_schema TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE relay_applications (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	datasets TEXT NOT NULL,
	rate_limit DOUBLE PRECISION NOT NULL DEFAULT 0,
	burst INTEGER NOT NULL DEFAULT 0,
	api_key_id TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX relay_applications_key ON relay_applications (api_key_id);

-- password is sealed (AES-GCM) under the context relay.destination:<id>.
CREATE TABLE relay_destinations (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL,
	host TEXT NOT NULL DEFAULT '',
	port INTEGER NOT NULL DEFAULT 0,
	database_name TEXT NOT NULL DEFAULT '',
	username TEXT NOT NULL DEFAULT '',
	options TEXT NOT NULL DEFAULT '{}',
	dsn TEXT NOT NULL DEFAULT '',
	password TEXT NOT NULL DEFAULT '',
	health TEXT NOT NULL DEFAULT 'unknown',
	last_error TEXT NOT NULL DEFAULT '',
	health_since BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE relay_routes (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	dataset TEXT NOT NULL REFERENCES relay_datasets (name),
	destination_id TEXT NOT NULL REFERENCES relay_destinations (id),
	table_schema TEXT NOT NULL DEFAULT '',
	table_name TEXT NOT NULL,
	mode TEXT NOT NULL,
	key_columns TEXT NOT NULL,
	deletes BOOLEAN NOT NULL DEFAULT FALSE,
	mapping TEXT NOT NULL,
	filter TEXT NOT NULL DEFAULT '',
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX relay_routes_dataset ON relay_routes (dataset);
CREATE INDEX relay_routes_destination ON relay_routes (destination_id);

-- Answers to ingest requests carrying an Idempotency-Key, per caller
-- (application id, or the principal's name), kept until expires_at.
CREATE TABLE relay_idempotency (
	caller TEXT NOT NULL,
	idem_key TEXT NOT NULL,
	body_hash TEXT NOT NULL,
	status INTEGER NOT NULL,
	response TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (caller, idem_key)
);
CREATE INDEX relay_idempotency_expires ON relay_idempotency (expires_at);
