CREATE TABLE emails (
	record_id TEXT PRIMARY KEY,
	order_id  TEXT NOT NULL,
	recipient TEXT NOT NULL,
	subject   TEXT NOT NULL
);
