CREATE TABLE orders (
	id     TEXT PRIMARY KEY,
	sku    TEXT NOT NULL,
	qty    INTEGER NOT NULL,
	amount INTEGER NOT NULL,
	status TEXT NOT NULL
);
CREATE TABLE stock (
	sku       TEXT PRIMARY KEY,
	available INTEGER NOT NULL
);
-- One row per purchase saga whose items were reserved; deleted when the
-- reservation is released.
CREATE TABLE reservations (
	saga_id TEXT PRIMARY KEY,
	sku     TEXT NOT NULL,
	qty     INTEGER NOT NULL
);
INSERT INTO stock (sku, available) VALUES ('VIP', 10);
