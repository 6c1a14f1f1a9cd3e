CREATE TABLE inventory_areas (
	stream_id TEXT PRIMARY KEY,
	event_id TEXT NOT NULL,
	area_id TEXT NOT NULL,
	capacity BIGINT NOT NULL,
	sold BIGINT NOT NULL,
	version BIGINT NOT NULL
);
CREATE INDEX inventory_areas_event ON inventory_areas (event_id, area_id);
CREATE TABLE inventory_holds (
	stream_id TEXT NOT NULL,
	order_id TEXT NOT NULL,
	quantity BIGINT NOT NULL,
	expires_ns BIGINT NOT NULL,
	PRIMARY KEY (stream_id, order_id)
);
