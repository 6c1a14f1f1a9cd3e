-- Every message notify composed: the mailbox. With SMTP configured a
-- message is pending until it is sent (or failed, after its attempts);
-- without, it is delivered to the mailbox at once.
CREATE TABLE notify_messages (
	id          TEXT PRIMARY KEY,
	source      TEXT NOT NULL UNIQUE,
	kind        TEXT NOT NULL,
	order_id    TEXT NOT NULL DEFAULT '',
	recipient   TEXT NOT NULL,
	lang        TEXT NOT NULL,
	subject     TEXT NOT NULL,
	text_body   TEXT NOT NULL,
	html_body   TEXT NOT NULL,
	parts       TEXT NOT NULL,
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	next_ns     BIGINT NOT NULL DEFAULT 0,
	created_ns  BIGINT NOT NULL,
	sent_ns     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX notify_messages_created ON notify_messages (created_ns);
CREATE INDEX notify_messages_recipient ON notify_messages (recipient, created_ns);
CREATE INDEX notify_messages_pending ON notify_messages (state, next_ns);
