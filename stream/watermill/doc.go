// Package watermill runs Watermill services on Arus: any Arus engine (the
// embedded log, Redis Streams, Kafka) as a Watermill message.Publisher and
// message.Subscriber, so that a service written against Watermill gets a
// durable embedded log, or Arus's Redis and Kafka engines, without changing
// its handlers or router.
//
//	b, _ := embedded.New(ctx, embedded.Config{Dir: "data"})
//	pub, _ := watermill.NewPublisher(b, watermill.PublisherConfig{})
//	sub, _ := watermill.NewSubscriber(b, watermill.SubscriberConfig{Group: "billing"})
//	router.AddHandler("bill", "orders", sub, "invoices", pub, handle)
//
// A message is a record: the payload is the value, the UUID the arus-id
// header (the id Arus deduplicates by) and the metadata the other headers.
// [PublisherConfig.Key] gives messages a record key, and so a partition.
//
// What the subscriber guarantees, in the terms of Watermill's test suite
// (github.com/ThreeDotsLabs/watermill/pubsub/tests), which this package
// passes on the embedded and Redis engines with these features:
//
//   - ConsumerGroups: true. Every Subscribe call of a Subscriber consumes
//     in its [SubscriberConfig.Group]: a message reaches one subscription
//     of the group, and each group gets every message.
//   - ExactlyOnceDelivery: false. Delivery is at least once: an acked
//     message is committed when the messages fetched with it are all acked
//     or the subscription ends, so a crash (or a partition moving to
//     another member) can deliver acked messages again. Deduplicate by the
//     message UUID where that matters (Arus's consume.Dedupe does).
//   - GuaranteedOrder: true for a topic of one partition, or for messages
//     of one key; false across partitions. Records of a partition reach
//     the channel in order, the next only after the previous was acked, and
//     a nacked message is sent again before anything after it. Messages
//     without a key spread over the topic's partitions, which are consumed
//     in parallel. The suite runs with topics of one partition
//     ([SubscriberConfig.TopicPartitions]).
//   - GuaranteedOrderWithSingleSubscriber: false, since order holds with
//     several subscribers of a group too: one member owns a partition at a
//     time and hands it over only after committing.
//   - Persistent: true. Messages are stored by the engine and survive the
//     publisher, the subscriber and the process.
//   - NewSubscriberReceivesOldMessages: false. A new group starts at the
//     oldest retained message ([stream.StartEarliest]), but a new
//     subscriber of a group continues where the group is: the suite's test
//     of this feature expects every new subscriber of one constructor to
//     get every message, which only a new group per subscriber would do,
//     and that would break the consumer-group tests.
//   - RequireSingleInstance: false. Any number of publishers and
//     subscribers, in any number of processes, share one engine.
//   - ContextPreserved: false. A message's context is not carried to the
//     subscriber; the subscriber's message context is cancelled once the
//     message is acked or nacked, or when the subscription ends.
//   - RestartServiceCommand: not set. Losing and regaining the engine is
//     tested by each engine's own tests (stream/streamtest).
//
// The adapter uses only the public stream API: a Subscribe call is one
// [stream.Consumer.Consume] call whose handler sends each record as a
// message and waits for its ack; Close cancels them, which commits what
// was acked ([stream.PartialError]).
package watermill
