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
// Every event also gets a position, unique and increasing across the whole
// store: [Projection]s read events by position and keep their
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
// On SQLite one write transaction runs at a time, so positions (an
// AUTOINCREMENT key, never reused) are assigned in commit order. On
// PostgreSQL positions come from an identity sequence, drawn at insert
// time, and appends to different streams run in parallel, so they can
// commit out of order: a reader may see position 8 while 7 is still
// uncommitted. Each append holds an advisory lock of its stream from
// before it draws positions until its transaction ends; a reader that
// finds a position missing below the highest one it read waits until the
// appends holding such locks at that moment have ended, reads again, and
// goes no further than that highest position. Every missing position
// below it is then committed or a permanent gap (a rolled-back append), so
// a checkpoint never moves past an event that commits later. The wait is
// as long as the slowest append transaction in flight: commit soon after
// appending.
package eventsource
