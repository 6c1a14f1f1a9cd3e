-- Login throttling state per subject ("user:<name>" or "ip:<address>"),
-- shared by every process. Times are Unix milliseconds.
CREATE TABLE auth_throttle (
	subject TEXT PRIMARY KEY,
	failures INTEGER NOT NULL DEFAULT 0,
	window_start BIGINT NOT NULL DEFAULT 0,
	last_at BIGINT NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	lockouts INTEGER NOT NULL DEFAULT 0
);
