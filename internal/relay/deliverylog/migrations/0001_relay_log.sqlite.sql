-- One row per record and route. Times are Unix milliseconds.
CREATE TABLE relay_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at BIGINT NOT NULL,
	record_id TEXT NOT NULL,
	dataset TEXT NOT NULL,
	application TEXT NOT NULL DEFAULT '',
	route_id TEXT NOT NULL,
	route TEXT NOT NULL,
	destination_id TEXT NOT NULL,
	destination TEXT NOT NULL,
	destination_host TEXT NOT NULL DEFAULT '',
	topic TEXT NOT NULL,
	record_partition INTEGER NOT NULL,
	record_offset BIGINT NOT NULL,
	record_time BIGINT NOT NULL,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	row_json TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX relay_log_at ON relay_log (at, id);
CREATE INDEX relay_log_route ON relay_log (route_id, at, id);
CREATE INDEX relay_log_destination ON relay_log (destination_id, at, id);
CREATE INDEX relay_log_dataset ON relay_log (dataset, at, id);
CREATE INDEX relay_log_application ON relay_log (application, at, id);
CREATE INDEX relay_log_status ON relay_log (status, at, id);
CREATE INDEX relay_log_record ON relay_log (record_id);
