// Package redis is the Redis Streams backend of the Arus stream contract: a
// [stream.Broker] for running Arus on a Redis server (7.0 or later) that
// several processes share, through go-redis.
//
// # Layout in Redis
//
// Every key starts with [Config.KeyPrefix] (P below). Topic and group names
// cannot contain ':', so the keys never collide.
//
//	P:topics                   set of topic names
//	P:t:<topic>                hash: partitions, retention, and per partition
//	                           n<p> (end offset), m<p> (newest timestamp),
//	                           b<p> (bytes ever written)
//	P:t:<topic>:<p>            stream: the records of partition p
//	P:t:<topic>:<p>:idx        stream: one entry per produced batch (first
//	                           offset, newest timestamp so far, bytes before)
//	P:t:<topic>:groups         set of groups with offsets on the topic
//	P:groups                   set of group names
//	P:g:<group>:topics         set of topics the group has offsets on
//	P:g:<group>:members        sorted set: live member instances by expiry
//	P:g:<group>:subs           hash: member instance -> name and topics
//	P:g:<group>:gen            counter bumped when membership changes
//	P:g:<group>:o:<topic>      hash: partition -> committed offset
//	P:g:<group>:epoch          counter of leases taken in the group
//	P:g:<group>:l:<topic>:<p>  string with a TTL: the partition's lease
//
// # Offsets
//
// The record at offset o of a partition has the stream entry id 0-(o+1),
// assigned by Redis itself (XADD with id "0-*"), so offsets are dense from
// zero and mapping between offsets and entry ids needs no lookup. Retention
// trims only whole prefixes of a partition, so its start offset is its end
// offset minus its length. An entry has one field, "r2": the timestamp as
// 20 sortable digits, then the key and the headers, length-prefixed so that
// a nil key or header value stays apart from an empty one, then whether the
// record has a value, then the value. Entries written by earlier versions
// have two fields, "r1" (the same up to the value) or "r" (no room for nil)
// and "v" (the value), and read as they always did: "r" entries with an
// empty key as nil, a header value or value as empty.
//
// # Consumer groups
//
// Each partition stream carries a Redis consumer group of the same name, so
// XINFO and other Redis tools show how far the group has read. The group's
// committed offsets live in P:g:<group>:o:<topic> and are the truth: a
// record is committed once its offset is below the committed offset. New
// records are read with XREADGROUP NOACK: as a new owner reads again by
// range everything from the committed offset up to what the group has read,
// the Redis pending-entries list would only repeat the committed offsets, at
// a cost to Redis greater than the rest of consuming (see
// docs/benchmarks.md). Entries left pending by versions that read with
// acknowledgement, or by other readers of the group, are acknowledged by the
// commits that pass them and when a partition changes owner.
//
// Members register with a heartbeat in P:g:<group>:members and split the
// partitions evenly among the live members, round robin over the sorted
// partitions of the topics each subscribes to. A member owns a partition
// only while it holds the partition's lease, a key with a TTL renewed by the
// heartbeat and carrying an epoch, unique in the group, that every new
// owner gets afresh. Commits and claims run as Lua scripts that first check
// the caller's lease (fencing): a member that paused past its lease cannot
// commit over its successor. A commit returns the membership generation, so
// a busy member hands partitions to a new member after its batch in
// progress, and the new member tries for their leases every few
// milliseconds meanwhile. A new owner delivers again everything from the
// committed offset before reading new records.
//
// New records are read with XREADGROUP BLOCK on one dedicated connection per
// Consume call, so a record reaches an idle consumer within milliseconds.
//
// # Durability
//
// Produce returns once Redis has acknowledged the write. Whether that
// survives a restart of Redis depends on the server's persistence (AOF with
// appendfsync always or everysec, or RDB snapshots); [New] logs a warning
// when the server keeps nothing on disk. Redis Cluster is not supported: the
// scripts touch keys of a topic and of a group together.
package redis
