CREATE TABLE invoices (
	order_id   TEXT PRIMARY KEY,
	invoice_id TEXT NOT NULL,
	amount     BIGINT NOT NULL,
	status     TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT ''
);
