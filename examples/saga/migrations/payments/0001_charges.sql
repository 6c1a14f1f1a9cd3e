-- One row per saga: charged, refunded, declined, or voided (the
-- compensation came before any charge).
CREATE TABLE charges (
	saga_id TEXT PRIMARY KEY,
	amount  BIGINT NOT NULL,
	status  TEXT NOT NULL,
	reason  TEXT NOT NULL DEFAULT ''
);
