-- The waiting room of on-sale moments: per event its settings and the
-- state of admission (the last position given, the positions admitted so
-- far and the admission clock), and one row per queue ticket. Positions are
-- given by incrementing last_position in the settings row and admitted as
-- ranges (admitted_through), each step a compare-and-set on that row, so
-- processes sharing the store never give a position twice nor admit beyond
-- the rate. Times are microseconds since the Unix epoch (UTC).
CREATE TABLE waitroom_settings (
	event_id TEXT PRIMARY KEY,
	enabled INTEGER NOT NULL,
	rate INTEGER NOT NULL,
	token_ttl_seconds INTEGER NOT NULL,
	last_position BIGINT NOT NULL DEFAULT 0,
	admitted_through BIGINT NOT NULL DEFAULT 0,
	admit_tat BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL
);

CREATE TABLE waitroom_tickets (
	id TEXT PRIMARY KEY,
	event_id TEXT NOT NULL,
	position BIGINT NOT NULL,
	secret_hash TEXT NOT NULL,
	joined_at BIGINT NOT NULL,
	admitted_at BIGINT NOT NULL DEFAULT 0,
	used_at BIGINT NOT NULL DEFAULT 0,
	used_order TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX waitroom_tickets_position ON waitroom_tickets (event_id, position);
