-- {{table}} holds records written by the service in its own transactions
-- until a forwarder has published them.
CREATE TABLE {{table}} (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	record_id TEXT NOT NULL,
	topic TEXT NOT NULL,
	key BYTEA,
	value BYTEA,
	headers BYTEA,
	bucket SMALLINT NOT NULL,
	ts_ns BIGINT NOT NULL,
	created_ns BIGINT NOT NULL,
	sent_ns BIGINT
);
CREATE INDEX {{table}}_pending ON {{table}} (id) WHERE sent_ns IS NULL;
CREATE INDEX {{table}}_sent ON {{table}} (sent_ns) WHERE sent_ns IS NOT NULL;

-- One row per key bucket. A forwarder publishes a bucket's rows only while
-- it holds the bucket's row lock (SELECT ... FOR UPDATE SKIP LOCKED), so two
-- forwarders never publish rows of one key at the same time.
CREATE TABLE {{table}}_lock (
	bucket SMALLINT PRIMARY KEY
);
INSERT INTO {{table}}_lock (bucket) SELECT generate_series(0, 63);
