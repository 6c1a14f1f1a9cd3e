package embedded

// The statements the log runs against its tables. They are named here, and
// only here, so that TestQueriesUseIndexes checks SQLite's plan of the very
// text the code runs: the statements run per produce batch, per fetch or
// per commit, and by retention, find their rows through an index and never
// sort them; the few that read a whole table say why.
const (
	// Ping: reads no table.
	sqlPing = `SELECT 1`

	// Per produce batch, and by retention for a chunk it cuts.
	sqlInsertChunk = `INSERT INTO chunks (pid, base, last, max_time, size, data) VALUES (?, ?, ?, ?, ?, ?)`
	// Per commit of a group's offsets.
	sqlCommitOffset = `INSERT INTO group_offsets (grp, pid, committed) VALUES (?, ?, ?)
			ON CONFLICT (grp, pid) DO UPDATE SET committed = excluded.committed`

	// Per fetch: the chunks of a partition from the one holding an offset.
	sqlFetch = `SELECT base, data FROM chunks WHERE pid = ? AND base >= coalesce(
			(SELECT base FROM chunks WHERE pid = ? AND base <= ? ORDER BY base DESC LIMIT 1), ?) ORDER BY base`
	// The bounds of the chunk holding an offset, per step of the binary
	// search by time.
	sqlChunkAt = `SELECT base, last, max_time FROM chunks WHERE pid = ? AND base <= ? ORDER BY base DESC LIMIT 1`
	// The chunk holding an offset, to find a record's time or a time's record.
	sqlChunkDataAt = `SELECT base, data FROM chunks WHERE pid = ? AND base <= ? ORDER BY base DESC LIMIT 1`

	// Retention.
	sqlChunkSizes      = `SELECT base, last, size FROM chunks WHERE pid = ? ORDER BY base`
	sqlChunkData       = `SELECT data FROM chunks WHERE pid = ? AND base = ?`
	sqlLastChunkBefore = `SELECT base, last, max_time, data FROM chunks WHERE pid = ? AND base < ? ORDER BY base DESC LIMIT 1`
	sqlDeleteChunk     = `DELETE FROM chunks WHERE pid = ? AND base = ?`
	sqlSizeBefore      = `SELECT coalesce(sum(size), 0) FROM chunks WHERE pid = ? AND base < ?`
	sqlDeleteBefore    = `DELETE FROM chunks WHERE pid = ? AND base < ?`
	sqlMoveStart       = `UPDATE partitions SET start_offset = ? WHERE id = ?`

	// Freeing the chunks of deleted topics.
	sqlNextDropped   = `SELECT pid FROM dropped_partitions LIMIT 1`
	sqlPurgeChunks   = `DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE pid = ? LIMIT ?)`
	sqlForgetDropped = `DELETE FROM dropped_partitions WHERE pid = ?`

	// Loading the catalog when the log opens.
	sqlLoadTopics      = `SELECT id, name, partitions, retention_time, retention_bytes FROM topics`
	sqlLoadPartitions  = `SELECT id, topic_id, partition, start_offset FROM partitions`
	sqlLoadEnds        = `SELECT pid, max(last), max(max_time), sum(size) FROM chunks GROUP BY pid`
	sqlLoadGroupTopics = `SELECT grp, topic_id FROM group_topics`
	sqlLoadOffsets     = `SELECT grp, pid, committed FROM group_offsets`

	// Administration of topics and groups.
	sqlInsertTopic            = `INSERT INTO topics (name, partitions, retention_time, retention_bytes) VALUES (?, ?, ?, ?)`
	sqlInsertPartition        = `INSERT INTO partitions (topic_id, partition, start_offset) VALUES (?, ?, 0)`
	sqlDropPartition          = `INSERT OR IGNORE INTO dropped_partitions (pid) VALUES (?)`
	sqlDeletePartitionOffsets = `DELETE FROM group_offsets WHERE pid = ?`
	sqlDeleteTopicPartitions  = `DELETE FROM partitions WHERE topic_id = ?`
	sqlDeleteTopicGroups      = `DELETE FROM group_topics WHERE topic_id = ?`
	sqlDeleteTopic            = `DELETE FROM topics WHERE id = ?`
	sqlRegisterGroup          = `INSERT OR IGNORE INTO group_topics (grp, topic_id, registered) VALUES (?, ?, ?)`
	sqlDeleteGroupTopics      = `DELETE FROM group_topics WHERE grp = ?`
	sqlDeleteGroupOffsets     = `DELETE FROM group_offsets WHERE grp = ?`
)
