CREATE TABLE orders (
	id         TEXT PRIMARY KEY,
	customer   TEXT NOT NULL,
	email      TEXT NOT NULL,
	amount     BIGINT NOT NULL,
	status     TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT ''
);
