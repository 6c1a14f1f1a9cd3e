-- {{table}} remembers the ids of records a consumer has handled, written in
-- the transaction of the handler's effect.
CREATE TABLE {{table}} (
	id TEXT PRIMARY KEY,
	handled_ns BIGINT NOT NULL
);
CREATE INDEX {{table}}_handled ON {{table}} (handled_ns);
