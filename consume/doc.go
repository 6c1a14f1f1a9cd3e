// Package consume is the consumer runtime of Arus: it runs handlers over a
// [stream.Consumer] in a consumer group, with ordering per partition (or per
// key), bounded concurrency, backpressure and graceful shutdown, and the
// middleware that makes processing reliable: retry, dead-letter, dedupe,
// timeout, panic recovery, metrics and tracing.
//
// # Use
//
//	rt, err := consume.New(broker, consume.Config{Group: "billing", Topics: []string{"orders"}})
//	chain, err := consume.Chain(consume.ChainConfig{
//		Group:    "billing",
//		Producer: broker,   // dead letters go to orders.billing.dlq
//		Inbox:    inbox,    // e.g. the SQL inbox of package outbox
//		Metrics:  metrics,  // consume.NewMetrics(registry)
//	})
//	err = rt.Run(ctx, chain(handle))
//
// # The default chain
//
// [Chain] builds one chain, outermost first:
//
//	metrics → tracing → dead-letter → retry → timeout → dedupe → recover → handler
//
// and the order is deliberate:
//
//   - metrics and tracing are outermost, so that a record's latency, its
//     outcome and its span cover its whole handling: every attempt and the
//     dead letter. Retries show as span events and in the retries counter.
//   - dead-letter wraps retry, so it sees only what retrying gave up on: a
//     permanent error at once, a transient one after MaxAttempts or
//     MaxElapsed. The [*RetryError] it receives carries the attempts and the
//     first and last failure times into the dead letter's headers. Once the
//     dead letter is durable it reports success, so the record is
//     committed and the partition goes on.
//   - retry wraps timeout, so each attempt gets its own deadline and a
//     timed-out attempt (a transient error) is tried again.
//   - dedupe sits right around the handler, inside retry and timeout, so
//     that an attempt that fails marks nothing, a transactional inbox's
//     transaction holds the handler's effects only, and a record already
//     handled (redelivered, or replayed from the dead-letter queue) is
//     skipped without counting as a failure.
//   - recover is innermost, so a panic becomes a permanent [*PanicError]
//     that retry does not repeat and dead-letter parks, instead of crashing
//     the process or redelivering a poison record forever; an inbox
//     transaction around it sees an ordinary error and rolls back. The
//     runtime also recovers around the whole chain, as a last resort, and
//     leaves such a batch uncommitted.
//
// # Dead letters and replay
//
// A record dead-lettered by group G from topic T goes to T.G.dlq
// ([DLQTopic]) with its key, value and headers, arus-id included, plus
// the arus-dlq-* headers ([HeaderDLQTopic] and the rest). The runtime also
// consumes T.G.retry ([RetryTopic]), which only G reads: package dlq
// replays dead letters there, so they come back to the same handler and
// no other group sees them twice. A replayed record keeps its arus-id, so
// [Dedupe] still holds.
//
// # Errors
//
// Errors are transient unless marked with [Permanent] (or a panic). A
// transient error is retried with exponential backoff and jitter; the wait
// happens inside the handler call, so it holds up only its own partition,
// or with per-key concurrency only its own key. Records the runtime did not
// finish because it is stopping fail with [ErrStopping] and are delivered
// again, never dead-lettered.
package consume
