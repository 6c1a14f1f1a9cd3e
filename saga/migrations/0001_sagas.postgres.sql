-- Saga instances, the state of each of their steps, and their timeline.
-- Times are unix microseconds, so that they compare and sort as numbers on
-- both dialects.

CREATE TABLE saga_instances (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	state       TEXT NOT NULL,
	step        INTEGER NOT NULL,
	data        BYTEA NOT NULL,
	error       TEXT NOT NULL DEFAULT '',
	version     INTEGER NOT NULL,
	-- The outgoing record of the step being run or compensated: the saga's
	-- own outbox, one slot per instance. pending is 1 while it waits to be
	-- produced; it is kept after sending so that it can be sent again with
	-- the same arus-id.
	pending     INTEGER NOT NULL DEFAULT 0,
	out_kind    TEXT NOT NULL DEFAULT '',
	out_id      TEXT NOT NULL DEFAULT '',
	out_topic   TEXT NOT NULL DEFAULT '',
	out_key     BYTEA,
	out_value   BYTEA,
	out_headers TEXT NOT NULL DEFAULT '[]',
	attempts    INTEGER NOT NULL DEFAULT 0,
	deadline    BIGINT NOT NULL DEFAULT 0,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE INDEX saga_instances_state ON saga_instances (state, created_at, id);
CREATE INDEX saga_instances_created ON saga_instances (created_at, id);
CREATE INDEX saga_instances_pending ON saga_instances (updated_at) WHERE pending = 1;
CREATE INDEX saga_instances_deadline ON saga_instances (deadline) WHERE deadline > 0;

CREATE TABLE saga_steps (
	saga_id         TEXT NOT NULL REFERENCES saga_instances (id) ON DELETE CASCADE,
	idx             INTEGER NOT NULL,
	name            TEXT NOT NULL,
	status          TEXT NOT NULL,
	command_id      TEXT NOT NULL DEFAULT '',
	compensation_id TEXT NOT NULL DEFAULT '',
	-- First send of the command and of the compensation, and their answers.
	command_sent_at      BIGINT NOT NULL DEFAULT 0,
	replied_at           BIGINT NOT NULL DEFAULT 0,
	compensation_sent_at BIGINT NOT NULL DEFAULT 0,
	compensated_at       BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (saga_id, idx)
);

CREATE TABLE saga_events (
	id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	saga_id   TEXT NOT NULL REFERENCES saga_instances (id) ON DELETE CASCADE,
	at        BIGINT NOT NULL,
	type      TEXT NOT NULL,
	step      INTEGER NOT NULL,
	record_id TEXT NOT NULL DEFAULT '',
	topic     TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT '',
	value     BYTEA
);
CREATE INDEX saga_events_saga ON saga_events (saga_id, id);
CREATE INDEX saga_events_record ON saga_events (saga_id, record_id);
