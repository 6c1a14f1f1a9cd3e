// Package stream is the contract of the Arus event backbone: records, topics,
// partitions, consumer groups, offsets, replay and lag, with one set of
// guarantees whatever engine runs underneath.
//
// Three backends implement [Broker]: stream/embedded (a durable log on SQLite,
// the default), stream/kafka (Apache Kafka through franz-go) and stream/redis
// (Redis Streams). The conformance suite in stream/streamtest states every
// guarantee below as a test, and every backend runs it.
//
// # Guarantees
//
//   - Durability: [Producer.Produce] returns nil only once every record is
//     durable (fsynced on the embedded log, acknowledged by all in-sync replicas
//     on Kafka, acknowledged by Redis). When it fails, a [*ProduceError] says
//     which records were not stored; no record is reported stored that was not.
//   - Partitioning: a record with a key goes to partition
//     [Partition](key, partitions), the same function as Kafka's default
//     partitioner, so a key lands on the same partition whichever client wrote
//     it. Records without a key are spread across partitions.
//   - Order: records of one partition are stored and delivered in offset order.
//     Records with the same key therefore keep the order in which one producer
//     produced them.
//   - Consumer groups: within a group each partition is processed by at most
//     one member at a time, in offset order; different groups each see every
//     record. Offsets are committed only after the handler returned nil for
//     the records they cover (at-least-once). When a member stops or crashes,
//     its partitions move to the others and uncommitted records are delivered
//     again. A new group starts at the earliest retained record unless
//     [ConsumerConfig.StartAt] says otherwise.
//   - Offsets: an offset is the position of a record in its partition,
//     dense from zero. A committed offset is the offset of the next record the
//     group will process, as in Kafka. Lag is the end offset minus the
//     committed offset.
//   - Retention: the embedded and Redis backends never delete a record that a
//     registered group has not committed, unless a hard size cap is hit. On
//     Kafka, retention is the broker's.
//   - Backpressure: each backend fetches into bounded buffers; a slow handler
//     slows fetching, never grows memory.
package stream
