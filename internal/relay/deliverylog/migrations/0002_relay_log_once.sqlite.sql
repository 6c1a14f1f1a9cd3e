-- An entry is kept once: a route's entry for a record with the same status
-- and attempts, written again (by a process rebuilding entries lost in a
-- restart, or after a redelivery), is ignored.
DELETE FROM relay_log WHERE id NOT IN (
	SELECT MIN(id) FROM relay_log GROUP BY route_id, topic, record_partition, record_offset, status, attempts);
CREATE UNIQUE INDEX relay_log_once ON relay_log (route_id, topic, record_partition, record_offset, status, attempts);
