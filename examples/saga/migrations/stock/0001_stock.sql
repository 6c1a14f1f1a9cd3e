CREATE TABLE items (
	sku       TEXT PRIMARY KEY,
	available INTEGER NOT NULL
);
-- One row per saga: reserved, released, or refused (out of stock, or the
-- release came first).
CREATE TABLE reservations (
	saga_id TEXT PRIMARY KEY,
	sku     TEXT NOT NULL,
	qty     INTEGER NOT NULL,
	status  TEXT NOT NULL
);
INSERT INTO items (sku, available) VALUES ('VIP', 10), ('REGULER', 5);
