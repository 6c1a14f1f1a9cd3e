CREATE TABLE {{name}}_events (
	position INTEGER PRIMARY KEY AUTOINCREMENT,
	stream_id TEXT NOT NULL,
	version INTEGER NOT NULL,
	type TEXT NOT NULL,
	data TEXT NOT NULL,
	metadata TEXT,
	time_ns INTEGER NOT NULL,
	UNIQUE (stream_id, version)
);
CREATE TABLE {{name}}_snapshots (
	stream_id TEXT PRIMARY KEY,
	version INTEGER NOT NULL,
	data TEXT NOT NULL,
	time_ns INTEGER NOT NULL
);
CREATE TABLE {{name}}_checkpoints (
	projection TEXT PRIMARY KEY,
	position INTEGER NOT NULL,
	updated_ns INTEGER NOT NULL
);
