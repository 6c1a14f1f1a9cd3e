-- {{table}} holds records written by the service in its own transactions
-- until the forwarder has published them. id is the rowid: SQLite has one
-- writer at a time, so ids grow in commit order.
CREATE TABLE {{table}} (
	id INTEGER PRIMARY KEY,
	record_id TEXT NOT NULL,
	topic TEXT NOT NULL,
	key BLOB,
	value BLOB,
	headers BLOB,
	bucket INTEGER NOT NULL,
	ts_ns INTEGER NOT NULL,
	created_ns INTEGER NOT NULL,
	sent_ns INTEGER
);
CREATE INDEX {{table}}_pending ON {{table}} (id) WHERE sent_ns IS NULL;
CREATE INDEX {{table}}_sent ON {{table}} (sent_ns) WHERE sent_ns IS NOT NULL;
