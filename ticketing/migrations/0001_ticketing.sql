-- The ticketing service's store: the catalogue (merchants, events, areas,
-- staff, schedules, payment methods), orders with their lines and tickets,
-- refunds, and the dashboard's read model. Times are microseconds since the
-- Unix epoch (UTC); money is whole rupiah.
CREATE TABLE merchants (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	type TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX merchants_name ON merchants (name);

CREATE TABLE merchant_members (
	merchant_id TEXT NOT NULL,
	username TEXT NOT NULL,
	PRIMARY KEY (merchant_id, username)
);

CREATE TABLE events (
	id TEXT PRIMARY KEY,
	merchant_id TEXT NOT NULL,
	code TEXT NOT NULL,
	name TEXT NOT NULL,
	venue TEXT NOT NULL,
	address TEXT NOT NULL,
	description TEXT NOT NULL,
	starts_at BIGINT NOT NULL,
	ends_at BIGINT NOT NULL,
	sale_starts_at BIGINT NOT NULL,
	sale_ends_at BIGINT NOT NULL,
	time_zone TEXT NOT NULL,
	status TEXT NOT NULL,
	status_reason TEXT NOT NULL DEFAULT '',
	approved_by TEXT NOT NULL DEFAULT '',
	go_live_saga TEXT NOT NULL DEFAULT '',
	go_live_state TEXT NOT NULL DEFAULT '',
	go_live_attempts INTEGER NOT NULL DEFAULT 0,
	gate_stub INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_code ON events (code);
CREATE INDEX events_merchant ON events (merchant_id);
CREATE INDEX events_status ON events (status);

CREATE TABLE areas (
	id TEXT PRIMARY KEY,
	event_id TEXT NOT NULL,
	name TEXT NOT NULL,
	capacity INTEGER NOT NULL,
	price BIGINT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX areas_event_name ON areas (event_id, name);

CREATE TABLE staff (
	id TEXT PRIMARY KEY,
	event_id TEXT NOT NULL,
	name TEXT NOT NULL,
	email TEXT NOT NULL,
	work_starts_at BIGINT NOT NULL,
	work_ends_at BIGINT NOT NULL,
	status TEXT NOT NULL,
	qr_secret TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX staff_event ON staff (event_id);

CREATE TABLE schedules (
	id TEXT PRIMARY KEY,
	event_id TEXT NOT NULL,
	name TEXT NOT NULL,
	starts_at BIGINT NOT NULL,
	ends_at BIGINT NOT NULL,
	approver TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX schedules_event ON schedules (event_id);

CREATE TABLE payment_methods (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX payment_methods_name ON payment_methods (name);

CREATE TABLE order_days (
	day TEXT PRIMARY KEY,
	n INTEGER NOT NULL
);

CREATE TABLE orders (
	id TEXT PRIMARY KEY,
	number TEXT NOT NULL,
	event_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	buyer_user_id TEXT NOT NULL,
	buyer_name TEXT NOT NULL,
	buyer_email TEXT NOT NULL,
	buyer_phone TEXT NOT NULL,
	buyer_lang TEXT NOT NULL,
	method TEXT NOT NULL,
	total BIGINT NOT NULL,
	payment_received BIGINT NOT NULL DEFAULT 0,
	payment_id TEXT NOT NULL DEFAULT '',
	checkout INTEGER NOT NULL DEFAULT 1,
	paid INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	refund_status TEXT NOT NULL DEFAULT '',
	refunded BIGINT NOT NULL DEFAULT 0,
	reason TEXT NOT NULL DEFAULT '',
	idempotency_key TEXT NOT NULL DEFAULT '',
	hold_expires_at BIGINT NOT NULL,
	placed_at BIGINT NOT NULL,
	paid_at BIGINT NOT NULL DEFAULT 0,
	closed_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX orders_number ON orders (number);
CREATE UNIQUE INDEX orders_idempotency ON orders (idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX orders_event ON orders (event_id);
CREATE INDEX orders_pending ON orders (status, hold_expires_at);

CREATE TABLE order_lines (
	order_id TEXT NOT NULL,
	area_id TEXT NOT NULL,
	area_name TEXT NOT NULL,
	quantity INTEGER NOT NULL,
	unit_price BIGINT NOT NULL,
	PRIMARY KEY (order_id, area_id)
);

CREATE TABLE tickets (
	id TEXT PRIMARY KEY,
	order_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	area_id TEXT NOT NULL,
	area_name TEXT NOT NULL,
	price BIGINT NOT NULL,
	code TEXT NOT NULL,
	status TEXT NOT NULL,
	issued_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tickets_order ON tickets (order_id);

CREATE TABLE refunds (
	id TEXT PRIMARY KEY,
	order_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	amount BIGINT NOT NULL,
	ticket_ids TEXT NOT NULL,
	reason TEXT NOT NULL,
	status TEXT NOT NULL,
	requested_by TEXT NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	decision_reason TEXT NOT NULL DEFAULT '',
	returned INTEGER NOT NULL DEFAULT 0,
	requested_at BIGINT NOT NULL,
	decided_at BIGINT NOT NULL DEFAULT 0,
	refunded_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_status ON refunds (status);

CREATE TABLE dashboard_days (
	day TEXT PRIMARY KEY,
	orders INTEGER NOT NULL DEFAULT 0,
	tickets INTEGER NOT NULL DEFAULT 0,
	revenue BIGINT NOT NULL DEFAULT 0,
	refunded BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE dashboard_customers (
	email TEXT PRIMARY KEY,
	first_day TEXT NOT NULL
);
