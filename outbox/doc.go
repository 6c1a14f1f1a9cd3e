// Package outbox makes a service's state changes and the events it
// publishes about them agree, and makes a consumer's effects happen once.
//
// A service writes its events with [Outbox.Write] in the same database
// transaction as its state change; a [Forwarder] publishes them to the
// broker afterwards, in order per key, and marks them sent. Either the
// change and its events both commit, or neither does; and once committed,
// the events are published even if the process dies at any point. A
// consumer wraps each record's effect in [Inbox.Handle], which records the
// record's id in the consumer's own transaction, so a record delivered
// twice has one effect.
//
// # Tables
//
// Each service owns its outbox and inbox, in its own store: the outbox
// named "orders" is the table orders_outbox (and orders_outbox_lock on
// PostgreSQL), the inbox named "orders" is orders_inbox. The name defaults
// to the store's component, so each service's tables differ even when
// services share one PostgreSQL database and schema. The migrations are
// embedded and recorded under their own components (orders_outbox,
// orders_inbox), apart from the service's own migrations.
//
// # Guarantees
//
//   - A record is published if and only if the transaction that wrote it
//     committed. No record is lost: a row is marked sent only after the
//     broker acknowledged it, and deleted only after its retention.
//   - Each record gets its id ([stream.HeaderID]) when it is written; a
//     record published again (after a crash between publishing and marking
//     it sent, or after a publish that failed part-way) carries the same id.
//     Delivery is at-least-once; consumers that deduplicate by id, such as
//     those using an [Inbox], see one effect.
//   - Records with the same key are published in the order they were
//     written: in slice order within a Write, and across transactions in
//     the order of their Writes when the transactions were serialised (a
//     service that updates an aggregate's row before writing its events
//     gets this for free). Records of transactions that ran concurrently
//     without touching a common row have no order between them; each is
//     published once it commits.
//   - A record whose transaction committed late (after records written
//     after it) is never skipped: forwarders select every unsent row, not
//     rows past a remembered position.
//
// # Several forwarders
//
// On PostgreSQL, rows are spread over 64 buckets by a hash of their key
// (by their id when they have none). A forwarding round is one READ
// COMMITTED transaction that first locks the bucket rows of
// <table>_lock that no other forwarder holds (SELECT ... FOR UPDATE SKIP
// LOCKED), then, in a new statement and so with a new snapshot, reads the
// oldest unsent rows of those buckets in id order, publishes them, marks
// them sent and commits, which releases the buckets. Hence:
//
//   - two forwarders never publish rows of one key at the same time, and
//     the second to hold a bucket sees what the first marked sent (it reads
//     after its lock was granted, which is after the first committed), so
//     no row is published twice by running forwarders;
//   - within a bucket rows go out in id order, one round at a time, so the
//     order per key holds across forwarders;
//   - a row that committed after a round read its bucket is still unsent,
//     so the next round publishes it; nothing depends on ids being
//     assigned in commit order, which PostgreSQL sequences are not;
//   - a forwarder that dies rolls back with its connection and frees its
//     buckets at once; one that stops responding is cut off by
//     idle_in_transaction_session_timeout, set for its transactions to
//     PublishTimeout plus 30s. Its batch may then be published twice, with
//     the same ids.
//
// Skipping locked outbox rows directly would not keep order: a forwarder
// could skip key K's first row, locked by another, and publish K's second.
// Locking buckets, which hold every row of a key, avoids that; a single
// leader (an advisory lock) would too, but leaves the outbox still until a
// failed leader's lock is noticed and offers no way to share the work.
// By default a round claims every free bucket, so forwarders take turns;
// [ForwarderConfig.Buckets] makes each claim fewer, at random, so that
// they publish different buckets at the same time.
//
// On SQLite, a store belongs to one process and has one writer at a time;
// ids are assigned in commit order. One forwarder per outbox reads the
// oldest unsent rows, publishes them, then marks them sent in a short
// transaction, so the service's writes do not wait on the broker.
package outbox
