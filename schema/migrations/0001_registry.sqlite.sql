-- Subjects, their schema versions and the registry's settings. Times are
-- Unix milliseconds; deleted_at is 0 while a row is live. Schema ids come
-- from AUTOINCREMENT, so an id is never given out twice.
CREATE TABLE schema_subjects (
	name TEXT PRIMARY KEY,
	-- The subject's compatibility mode; '' follows the registry default.
	mode TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	deleted_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE schema_versions (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	subject TEXT NOT NULL REFERENCES schema_subjects (name),
	version INTEGER NOT NULL,
	-- The schema document as registered, compacted.
	body TEXT NOT NULL,
	-- SHA-256 of the document with sorted keys: finds a schema registered
	-- before.
	fingerprint TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	deleted_at BIGINT NOT NULL DEFAULT 0,
	UNIQUE (subject, version)
);
CREATE INDEX schema_versions_fingerprint ON schema_versions (subject, fingerprint);

CREATE TABLE schema_settings (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
