package kafkawire

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// producers tracks idempotent producers: the ids handed out and, per
// producer and partition, the sequence expected next and the last batches
// stored, so that a batch sent again after a lost response is answered
// with its first offset instead of being stored twice. The state lives in
// memory: after a restart a producer's retried batch is stored again (at
// least once), as with a Kafka broker that lost its producer state.
type producers struct {
	next atomic.Int64
	mu   sync.Mutex
	m    map[pidPartition]*sequenceState
}

type pidPartition struct {
	pid       int64
	topic     string
	partition int32
}

// recentBatches is how many batches per producer and partition are
// remembered for deduplication, as many as a producer may have in flight.
const recentBatches = 5

type sequenceState struct {
	epoch  int16
	next   int32 // sequence expected next
	broken bool  // an append failed: the producer must start over
	recent []*seqBatch
}

// seqBatch is a stored (or being stored) batch of an idempotent producer.
type seqBatch struct {
	first, last int32
	done        chan struct{}
	base        int64
	code        int16
}

func newProducers() *producers {
	p := &producers{m: make(map[pidPartition]*sequenceState)}
	// Ids unique across restarts: microseconds since the epoch at start.
	p.next.Store(time.Now().UnixMicro())
	return p
}

func (c *conn) initProducerID(r *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	if r.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		c.l.log.Info("kafkawire: refused a transactional producer; transactions are not supported", "client", c.clientID)
		return resp
	}
	ps := c.l.pids
	if r.Version >= 3 && r.ProducerID >= 0 {
		// An idempotent producer bumping its epoch: same id, sequences
		// start again from 0.
		ps.mu.Lock()
		for k := range ps.m {
			if k.pid == r.ProducerID {
				delete(ps.m, k)
			}
		}
		ps.mu.Unlock()
		resp.ProducerID, resp.ProducerEpoch = r.ProducerID, r.ProducerEpoch+1
		return resp
	}
	resp.ProducerID = ps.next.Add(1)
	resp.ProducerEpoch = 0
	return resp
}

// sequenceOutcome is what the sequence check decided for a batch.
type sequenceOutcome struct {
	code  int16
	dup   *seqBatch // a batch already stored: answer with its offset
	track *seqBatch // a new batch to record the outcome of
}

// check decides whether a batch of an idempotent producer is new, a
// duplicate, or out of order, and reserves its sequence when it is new.
func (ps *producers) check(topic string, partition int32, b producedBatch) sequenceOutcome {
	if b.producerID < 0 {
		return sequenceOutcome{}
	}
	n := int32(len(b.records))
	last := b.firstSequence + n - 1
	if last < b.firstSequence { // wrapped
		last = n - 1 - (int32(2147483647) - b.firstSequence) - 1
	}
	k := pidPartition{b.producerID, topic, partition}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	st := ps.m[k]
	switch {
	case st == nil || b.producerEpoch > st.epoch:
		// A producer unknown here (new, or from before a restart) or with a
		// new epoch starts at the sequence it sends.
		st = &sequenceState{epoch: b.producerEpoch}
		ps.m[k] = st
	case b.producerEpoch < st.epoch:
		return sequenceOutcome{code: kerr.InvalidProducerEpoch.Code}
	case st.broken:
		return sequenceOutcome{code: kerr.OutOfOrderSequenceNumber.Code}
	default:
		for _, rb := range st.recent {
			if rb.first == b.firstSequence && rb.last == last {
				return sequenceOutcome{dup: rb}
			}
		}
		if b.firstSequence != st.next {
			if seqBefore(b.firstSequence, st.next) {
				return sequenceOutcome{code: kerr.DuplicateSequenceNumber.Code}
			}
			return sequenceOutcome{code: kerr.OutOfOrderSequenceNumber.Code}
		}
	}
	sb := &seqBatch{first: b.firstSequence, last: last, done: make(chan struct{})}
	st.next = last + 1
	if st.next < 0 {
		st.next = 0
	}
	st.recent = append(st.recent, sb)
	if len(st.recent) > recentBatches {
		st.recent = st.recent[1:]
	}
	return sequenceOutcome{track: sb}
}

// seqBefore reports whether sequence a comes before b, allowing for
// wrap-around.
func seqBefore(a, b int32) bool {
	d := b - a
	return d > 0 && d < 1<<30
}

// fail marks a producer's partition broken after a failed append, so that
// its later batches are refused until it starts over.
func (ps *producers) fail(topic string, partition int32, pid int64) {
	ps.mu.Lock()
	if st := ps.m[pidPartition{pid, topic, partition}]; st != nil {
		st.broken = true
	}
	ps.mu.Unlock()
}

// partitionProduce is one partition of a produce request being stored.
type partitionProduce struct {
	resp  *kmsg.ProduceResponseTopicPartition
	wait  func() error
	recs  []*stream.Record
	dup   *seqBatch
	track *seqBatch
	pid   int64
}

// produce decodes the batches and queues their records to the log in
// request order; the returned function waits until they are durable. With
// acks=0 it still stores them but answers nothing.
func (c *conn) produce(r *kmsg.ProduceRequest) func() kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	ctx, cancel := c.requestContext()
	defer cancel()
	var parts []*partitionProduce
	datasets := map[string]error{} // why each topic is refused as a dataset's, nil when it is not
	for _, rt := range r.Topics {
		if _, ok := datasets[rt.Topic]; !ok {
			datasets[rt.Topic] = c.notDatasetTopic(ctx, rt.Topic)
		}
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
		tresp := &resp.Topics[len(resp.Topics)-1]
		for i, rp := range rt.Partitions {
			sp := &tresp.Partitions[i]
			sp.Default()
			sp.Partition = rp.Partition
			pp := &partitionProduce{resp: sp}
			parts = append(parts, pp)
			fail := func(code int16, err error) {
				sp.ErrorCode = code
				if err != nil {
					sp.ErrorMessage = errMessage(err)
				}
			}
			if r.TransactionID != nil {
				fail(kerr.TransactionalIDAuthorizationFailed.Code, errTransactional)
				continue
			}
			if !c.can(auth.PermRecordsProduce, rt.Topic) {
				fail(kerr.TopicAuthorizationFailed.Code, nil)
				continue
			}
			if err := datasets[rt.Topic]; err != nil {
				code := kerr.TopicAuthorizationFailed.Code
				if !errors.Is(err, errDatasetTopic) {
					code = kerr.UnknownServerError.Code
				}
				fail(code, err)
				continue
			}
			batches, err := decodeBatches(rp.Records)
			if err != nil {
				code := kerr.CorruptMessage.Code
				if errors.Is(err, errTransactional) {
					code = kerr.TransactionalIDAuthorizationFailed.Code
				}
				fail(code, err)
				continue
			}
			if len(batches) != 1 {
				// Clients send one batch per partition; an idempotent
				// producer's sequence is checked per batch.
				if len(batches) == 0 {
					fail(kerr.CorruptMessage.Code, errors.New("no record batch"))
					continue
				}
				for _, b := range batches[1:] {
					batches[0].records = append(batches[0].records, b.records...)
				}
				batches = batches[:1]
			}
			b := batches[0]
			if len(b.records) == 0 {
				fail(kerr.CorruptMessage.Code, errors.New("empty record batch"))
				continue
			}
			if _, err := c.l.cfg.Log.EnsureTopic(ctx, rt.Topic); err != nil {
				fail(kafkaCode(err), err)
				continue
			}
			out := c.l.pids.check(rt.Topic, rp.Partition, b)
			if out.code != 0 {
				fail(out.code, nil)
				continue
			}
			if out.dup != nil {
				pp.dup = out.dup
				continue
			}
			wait, err := c.l.cfg.Log.Append(ctx, rt.Topic, rp.Partition, b.records)
			if err != nil {
				code := kafkaCode(err)
				if errors.Is(err, stream.ErrInvalid) {
					code = kerr.UnknownTopicOrPartition.Code
				}
				fail(code, err)
				if out.track != nil {
					out.track.code = code
					close(out.track.done)
					c.l.pids.fail(rt.Topic, rp.Partition, b.producerID)
				}
				continue
			}
			pp.wait, pp.recs, pp.track, pp.pid = wait, b.records, out.track, b.producerID
			c.l.metrics.produced(len(b.records))
		}
	}
	return func() kmsg.Response {
		for _, pp := range parts {
			pp.finish(c)
		}
		if r.Acks == 0 {
			return nil
		}
		return resp
	}
}

// finish waits for one partition's append and fills in its response.
func (pp *partitionProduce) finish(c *conn) {
	sp := pp.resp
	switch {
	case pp.dup != nil:
		<-pp.dup.done
		sp.BaseOffset, sp.ErrorCode = pp.dup.base, pp.dup.code
	case pp.wait != nil:
		err := pp.wait()
		if err != nil {
			sp.ErrorCode = kafkaCode(err)
			sp.ErrorMessage = errMessage(err)
			sp.BaseOffset = -1
		} else {
			sp.BaseOffset = pp.recs[0].Offset
		}
		if t := pp.track; t != nil {
			t.base, t.code = sp.BaseOffset, sp.ErrorCode
			close(t.done)
			if err != nil {
				c.l.pids.fail(pp.recs[0].Topic, pp.recs[0].Partition, pp.pid)
			}
		}
	default:
		sp.BaseOffset = -1
	}
	sp.LogAppendTime = -1
}

// errDatasetTopic marks a produce refused because the topic is a relay
// dataset's.
var errDatasetTopic = errors.New("the topic holds a relay dataset's records")

// notDatasetTopic refuses producing to a relay dataset's topic: its records
// come in through the dataset's ingest endpoint, which checks the
// relay.ingest scope, the dataset's schema and the application's rate
// limit, none of which a plain produce would.
func (c *conn) notDatasetTopic(ctx context.Context, topic string) error {
	if c.l.cfg.DatasetOf == nil {
		return nil
	}
	name, err := c.l.cfg.DatasetOf(ctx, topic)
	if err != nil {
		c.l.log.Warn("kafkawire: find the dataset of a topic", "topic", topic, "err", err)
		return fmt.Errorf("find the dataset of topic %s: %w", topic, err)
	}
	if name == "" {
		return nil
	}
	return fmt.Errorf("%w: topic %s holds the records of the relay dataset %s; send them to POST /api/v1/datasets/%s/records, which applies the dataset's ingest scope, schema and rate limit",
		errDatasetTopic, topic, name, name)
}
