-- API keys, presented as arus_<prefix>_<secret>. Only the SHA-256 of the
-- secret is stored. Scopes are space-separated. Times are Unix
-- milliseconds, 0 for "never".
CREATE TABLE auth_api_keys (
	id TEXT PRIMARY KEY,
	prefix TEXT NOT NULL UNIQUE,
	secret_hash TEXT NOT NULL,
	name TEXT NOT NULL,
	owner_id TEXT REFERENCES auth_users (id) ON DELETE CASCADE,
	scopes TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0,
	last_used_at BIGINT NOT NULL DEFAULT 0,
	rotated_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX auth_api_keys_owner ON auth_api_keys (owner_id);
