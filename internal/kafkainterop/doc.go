// Package kafkainterop holds tests that run Arus's Kafka backend
// ([github.com/arus-platform/arus/stream/kafka]) beside Kafka clients that
// are not Arus's: librdkafka's kcat and kafka-python. Both produce for Arus
// to consume and consume what Arus produced, on one in-process cluster, and
// a consumer group is shared and handed over between an Arus consumer and a
// kafka-python one.
package kafkainterop
