CREATE TABLE {{name}}_events (
	position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	stream_id TEXT NOT NULL,
	version BIGINT NOT NULL,
	type TEXT NOT NULL,
	data TEXT NOT NULL,
	metadata TEXT,
	time_ns BIGINT NOT NULL,
	UNIQUE (stream_id, version)
);
CREATE TABLE {{name}}_snapshots (
	stream_id TEXT PRIMARY KEY,
	version BIGINT NOT NULL,
	data TEXT NOT NULL,
	time_ns BIGINT NOT NULL
);
CREATE TABLE {{name}}_checkpoints (
	projection TEXT PRIMARY KEY,
	position BIGINT NOT NULL,
	updated_ns BIGINT NOT NULL
);
