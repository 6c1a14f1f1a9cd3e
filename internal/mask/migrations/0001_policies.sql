CREATE TABLE mask_policies (
	topic TEXT NOT NULL PRIMARY KEY,
	fields TEXT NOT NULL,
	updated_at_ms BIGINT NOT NULL,
	updated_by TEXT NOT NULL
);
