CREATE TABLE audit_log (
	id BIGINT NOT NULL PRIMARY KEY,
	at_ms BIGINT NOT NULL,
	actor TEXT NOT NULL,
	method TEXT NOT NULL,
	path TEXT NOT NULL,
	route TEXT NOT NULL,
	status INTEGER NOT NULL,
	ip TEXT NOT NULL,
	request_id TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
