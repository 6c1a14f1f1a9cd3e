-- One payment intent per order.
CREATE TABLE payment_intents (
	id              TEXT PRIMARY KEY,
	order_id        TEXT NOT NULL UNIQUE,
	number          TEXT NOT NULL,
	event_id        TEXT NOT NULL,
	event_name      TEXT NOT NULL,
	amount          BIGINT NOT NULL,
	method          TEXT NOT NULL,
	state           TEXT NOT NULL,
	buyer           TEXT NOT NULL,
	pay_by_ns       BIGINT NOT NULL,
	virtual_account TEXT,
	qr              TEXT,
	received        BIGINT NOT NULL DEFAULT 0,
	refunded        BIGINT NOT NULL DEFAULT 0,
	late            BOOLEAN NOT NULL DEFAULT FALSE,
	paid_by         TEXT NOT NULL DEFAULT '',
	paid_key        TEXT NOT NULL DEFAULT '',
	provider_event  TEXT NOT NULL DEFAULT '',
	reason          TEXT NOT NULL DEFAULT '',
	created_ns      BIGINT NOT NULL,
	updated_ns      BIGINT NOT NULL,
	paid_ns         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX payment_intents_number ON payment_intents (number);
CREATE INDEX payment_intents_state ON payment_intents (state, created_ns);
CREATE UNIQUE INDEX payment_intents_va ON payment_intents (virtual_account);

-- Money returned, or to be returned at a counter.
CREATE TABLE payment_refunds (
	id           TEXT PRIMARY KEY,
	payment_id   TEXT NOT NULL REFERENCES payment_intents (id),
	order_id     TEXT NOT NULL,
	amount       BIGINT NOT NULL,
	method       TEXT NOT NULL,
	state        TEXT NOT NULL,
	reason       TEXT NOT NULL,
	provider_ref TEXT NOT NULL DEFAULT '',
	paid_by      TEXT NOT NULL DEFAULT '',
	paid_key     TEXT NOT NULL DEFAULT '',
	created_ns   BIGINT NOT NULL,
	updated_ns   BIGINT NOT NULL
);
CREATE INDEX payment_refunds_state ON payment_refunds (state, created_ns);
CREATE INDEX payment_refunds_order ON payment_refunds (order_id);

-- The online provider's events already handled, so a callback sent again
-- has no second effect.
CREATE TABLE payment_provider_events (
	event_id    TEXT PRIMARY KEY,
	payment_id  TEXT NOT NULL,
	status      TEXT NOT NULL,
	received_ns BIGINT NOT NULL
);
