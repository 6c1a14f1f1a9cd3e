-- Each change of a destination's health between up and down, newest kept.
CREATE TABLE relay_destination_events (
	destination_id TEXT NOT NULL,
	at BIGINT NOT NULL,
	health TEXT NOT NULL,
	error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX relay_destination_events_by_dest ON relay_destination_events (destination_id, at);
