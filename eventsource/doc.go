// Package eventsource keeps state as append-only streams of events in a
// service's own SQL store (SQLite or PostgreSQL, opened with the store
// package), and builds read models from them.
//
// A stream holds the events of one aggregate (an order, an area's
// inventory), numbered by version from 1. [Store.Append] and
// [Store.AppendTx] append with an expected version — the version the
// caller's decision was based on — and refuse with a [*ConflictError]
// when another append got there first, so two writers never both decide on
// the same state. [Store.AppendTx] appends inside the caller's
// transaction, so the events commit together with outbox records that
// publish them ([PublishTx], [Store.AppendPublish]) and with any other
// state of the service.
//
// Every event also gets a position, increasing across the whole store in
// commit order: [Projection]s read events by position and keep their
// checkpoint in the same transaction as their read model, so they resume
// where they stopped, can be rebuilt by replay, and never skip an event
// that committed late. Snapshots ([Store.SaveSnapshot]) shorten the
// loading of long streams; [Aggregate] is the load, decide, append loop
// with retries on conflict.
//
// # Tables
//
// A store named "ticketing" owns ticketing_events, ticketing_snapshots and
// ticketing_checkpoints in its database; its migrations are recorded under
// the component ticketing_eventsource.
//
// # Positions
//
// On SQLite one write transaction runs at a time, so positions
// (an AUTOINCREMENT key, never reused) are assigned in commit order. On
// PostgreSQL positions come from an identity sequence, which hands out
// numbers at insert time, not at commit: two transactions could commit
// out of order, and a reader that saw 8 might later find 7. AppendTx
// therefore takes a transaction-level advisory lock of the store before
// it reads the stream's version and inserts, held until the transaction
// ends: appends to one store are serialised, positions become visible in
// order, and a reader that has seen position p will never see a new event
// at or below p. A rolled-back append leaves a gap that stays a gap.
package eventsource
