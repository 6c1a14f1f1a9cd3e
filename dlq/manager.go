package dlq

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

// readChunk is how many records one Read asks for.
const readChunk = 1000

// List returns every dead-letter queue (every topic whose name ends in
// .dlq), sorted by name, with its counts.
func (m *Manager) List(ctx context.Context) ([]Queue, error) {
	topics, err := m.b.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("dlq: list topics: %w", err)
	}
	queues := []Queue{}
	for _, t := range topics {
		if !IsQueue(t.Name) {
			continue
		}
		q, err := m.queue(ctx, t)
		if errors.Is(err, stream.ErrTopicNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		queues = append(queues, q)
	}
	return queues, nil
}

// Queue describes one dead-letter queue; ErrNotFound when there is none of
// that name.
func (m *Manager) Queue(ctx context.Context, name string) (Queue, error) {
	t, err := m.describe(ctx, name)
	if err != nil {
		return Queue{}, err
	}
	return m.queue(ctx, t)
}

func (m *Manager) describe(ctx context.Context, name string) (stream.TopicInfo, error) {
	if !IsQueue(name) {
		return stream.TopicInfo{}, fmt.Errorf("dlq: %q is not a dead-letter queue (its name does not end in .dlq): %w", name, ErrNotFound)
	}
	if err := stream.ValidateTopicName(name); err != nil {
		return stream.TopicInfo{}, fmt.Errorf("dlq: %w", err)
	}
	t, err := m.b.DescribeTopic(ctx, name)
	if errors.Is(err, stream.ErrTopicNotFound) {
		return stream.TopicInfo{}, fmt.Errorf("dlq: no dead-letter queue %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return stream.TopicInfo{}, fmt.Errorf("dlq: describe %s: %w", name, err)
	}
	return t, nil
}

func (m *Manager) queue(ctx context.Context, t stream.TopicInfo) (Queue, error) {
	q := Queue{Name: t.Name, Records: t.Records()}
	marks, err := m.marks(ctx, t.Name)
	if err != nil {
		return Queue{}, err
	}
	q.Pending = q.Records
	for p := range marks {
		if int(p.Partition) < len(t.Offsets) {
			o := t.Offsets[p.Partition]
			if p.Offset >= o.Start && p.Offset < o.End {
				q.Pending--
			}
		}
	}
	for i, o := range t.Offsets {
		if o.End > o.Start {
			recs, err := m.b.Read(ctx, t.Name, int32(i), o.Start, 1)
			if err != nil {
				return Queue{}, fmt.Errorf("dlq: read %s/%d: %w", t.Name, i, err)
			}
			if len(recs) > 0 {
				q.Topic, q.Group = header(recs[0], consume.HeaderDLQTopic), header(recs[0], consume.HeaderDLQGroup)
				break
			}
		}
	}
	return q, nil
}

// Records returns the letters of queue name that f selects, in partition
// and offset order (at most f.Limit of them when it is set).
func (m *Manager) Records(ctx context.Context, name string, f Filter) ([]Letter, error) {
	letters := []Letter{}
	err := m.scan(ctx, name, func(l *Letter) bool {
		if f.match(l) {
			letters = append(letters, *l)
		}
		return f.Limit <= 0 || len(letters) < f.Limit
	})
	return letters, err
}

// Get returns one letter by its position, whatever its state;
// ErrNotFound when the queue has no record there.
func (m *Manager) Get(ctx context.Context, name string, p Position) (Letter, error) {
	letters, err := m.Records(ctx, name, Filter{Positions: []Position{p}, All: true, Limit: 1})
	if err != nil {
		return Letter{}, err
	}
	if len(letters) == 0 {
		return Letter{}, fmt.Errorf("dlq: %s has no record at %s: %w", name, p, ErrNotFound)
	}
	return letters[0], nil
}

// Reasons groups the letters f selects by error, most frequent first.
func (m *Manager) Reasons(ctx context.Context, name string, f Filter) ([]Reason, error) {
	by := map[string]*Reason{}
	err := m.scan(ctx, name, func(l *Letter) bool {
		if !f.match(l) {
			return true
		}
		r := by[l.Error]
		if r == nil {
			r = &Reason{Error: l.Error, First: l.DeadLettered, Last: l.DeadLettered}
			by[l.Error] = r
		}
		r.Count++
		if l.DeadLettered.Before(r.First) {
			r.First = l.DeadLettered
		}
		if l.DeadLettered.After(r.Last) {
			r.Last = l.DeadLettered
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	reasons := make([]Reason, 0, len(by))
	for _, r := range by {
		reasons = append(reasons, *r)
	}
	slices.SortFunc(reasons, func(a, b Reason) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Error, b.Error))
	})
	return reasons, nil
}

// Replay produces the pending letters f selects (all pending letters for
// an empty f) to the queue's retry topic, RetryTopic(name), then marks
// them replayed. It returns how many it replayed. See the package
// documentation for what a crash between the two steps means.
func (m *Manager) Replay(ctx context.Context, name string, f Filter) (int, error) {
	f.All, f.Limit = false, 0
	letters, err := m.Records(ctx, name, f)
	if err != nil || len(letters) == 0 {
		return 0, err
	}
	retry := RetryTopic(name)
	if err := m.ensure(ctx, retry); err != nil {
		return 0, err
	}
	for start := 0; start < len(letters); start += readChunk {
		chunk := letters[start:min(start+readChunk, len(letters))]
		recs := make([]*stream.Record, len(chunk))
		for i, l := range chunk {
			r := &stream.Record{Topic: retry, Key: l.Record.Key, Value: l.Record.Value,
				Headers: slices.Clone(l.Record.Headers)}
			r.SetHeader(consume.HeaderDLQReplays, []byte(strconv.Itoa(l.Replays+1)))
			recs[i] = r
		}
		if err := m.b.Produce(ctx, recs...); err != nil {
			return start, fmt.Errorf("dlq: replay %d record(s) of %s to %s: %w", len(recs), name, retry, err)
		}
		if err := m.mark(ctx, name, chunk, StateReplayed); err != nil {
			return start + len(chunk), err
		}
	}
	m.log.Info("dlq: replayed", "dlq", name, "to", retry, "records", len(letters))
	return len(letters), nil
}

// Discard marks the pending letters f selects (all pending letters for an
// empty f) discarded, so that they are no longer listed or replayed. It
// returns how many it discarded.
func (m *Manager) Discard(ctx context.Context, name string, f Filter) (int, error) {
	f.All, f.Limit = false, 0
	letters, err := m.Records(ctx, name, f)
	if err != nil || len(letters) == 0 {
		return 0, err
	}
	for start := 0; start < len(letters); start += readChunk {
		chunk := letters[start:min(start+readChunk, len(letters))]
		if err := m.mark(ctx, name, chunk, StateDiscarded); err != nil {
			return start, err
		}
	}
	m.log.Info("dlq: discarded", "dlq", name, "records", len(letters))
	return len(letters), nil
}

// scan calls fn with every letter of queue name, in partition and offset
// order, until fn returns false.
func (m *Manager) scan(ctx context.Context, name string, fn func(*Letter) bool) error {
	t, err := m.describe(ctx, name)
	if err != nil {
		return err
	}
	marks, err := m.marks(ctx, name)
	if err != nil {
		return err
	}
	for i, o := range t.Offsets {
		p := int32(i)
		for off := o.Start; off < o.End; {
			recs, err := m.b.Read(ctx, name, p, off, readChunk)
			if errors.Is(err, stream.ErrOffsetOutOfRange) {
				break
			}
			if err != nil {
				return fmt.Errorf("dlq: read %s/%d@%d: %w", name, p, off, err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				l := letter(r)
				if s, ok := marks[l.Position]; ok {
					l.State = s
				}
				if !fn(&l) {
					return nil
				}
			}
			off = recs[len(recs)-1].Offset + 1
		}
	}
	return nil
}

// letter reads a dead letter's headers.
func letter(r *stream.Record) Letter {
	l := Letter{
		Position:     Position{Partition: r.Partition, Offset: r.Offset},
		State:        StatePending,
		Record:       r,
		Topic:        header(r, consume.HeaderDLQTopic),
		Group:        header(r, consume.HeaderDLQGroup),
		Error:        header(r, consume.HeaderDLQError),
		FirstFailure: headerTime(r, consume.HeaderDLQFirstFailure),
		LastFailure:  headerTime(r, consume.HeaderDLQLastFailure),
		DeadLettered: r.Timestamp,
		Permanent:    header(r, consume.HeaderDLQPermanent) == "true",
	}
	p, _ := strconv.ParseInt(header(r, consume.HeaderDLQPartition), 10, 32)
	l.OriginalPartition = int32(p)
	l.OriginalOffset, _ = strconv.ParseInt(header(r, consume.HeaderDLQOffset), 10, 64)
	l.Attempts, _ = strconv.Atoi(header(r, consume.HeaderDLQAttempts))
	l.Replays, _ = strconv.Atoi(header(r, consume.HeaderDLQReplays))
	return l
}

func header(r *stream.Record, key string) string {
	v, _ := r.Header(key)
	return string(v)
}

func headerTime(r *stream.Record, key string) time.Time {
	t, err := time.Parse(consume.TimeFormat, header(r, key))
	if err != nil {
		return time.Time{}
	}
	return t
}

// mark is the value of a record of a done topic.
type mark struct {
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	State     string    `json:"state"`
	At        time.Time `json:"at"`
}

// marks reads the done marks of queue name: position → state.
func (m *Manager) marks(ctx context.Context, name string) (map[Position]string, error) {
	done := map[Position]string{}
	topic := DoneTopic(name)
	t, err := m.b.DescribeTopic(ctx, topic)
	if errors.Is(err, stream.ErrTopicNotFound) {
		return done, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: describe %s: %w", topic, err)
	}
	for i, o := range t.Offsets {
		for off := o.Start; off < o.End; {
			recs, err := m.b.Read(ctx, topic, int32(i), off, readChunk)
			if errors.Is(err, stream.ErrOffsetOutOfRange) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("dlq: read %s/%d@%d: %w", topic, i, off, err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				var mk mark
				if err := json.Unmarshal(r.Value, &mk); err != nil {
					m.log.Warn("dlq: skipping a done mark that is not JSON", "topic", topic, "offset", r.Offset, "err", err)
					continue
				}
				done[Position{Partition: mk.Partition, Offset: mk.Offset}] = mk.State
			}
			off = recs[len(recs)-1].Offset + 1
		}
	}
	return done, nil
}

// mark records letters as done with state.
func (m *Manager) mark(ctx context.Context, name string, letters []Letter, state string) error {
	topic := DoneTopic(name)
	if err := m.ensure(ctx, topic); err != nil {
		return err
	}
	now := time.Now().UTC()
	recs := make([]*stream.Record, len(letters))
	for i, l := range letters {
		v, err := json.Marshal(mark{Partition: l.Partition, Offset: l.Offset, State: state, At: now})
		if err != nil {
			return err
		}
		recs[i] = &stream.Record{Topic: topic, Key: []byte(l.Position.String()), Value: v}
	}
	if err := m.b.Produce(ctx, recs...); err != nil {
		return fmt.Errorf("dlq: mark %d record(s) of %s %s: %w", len(recs), name, state, err)
	}
	return nil
}

// ensure creates topic with one partition unless it exists.
func (m *Manager) ensure(ctx context.Context, topic string) error {
	err := m.b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 1})
	if err != nil && !errors.Is(err, stream.ErrTopicExists) {
		return fmt.Errorf("dlq: create %s: %w", topic, err)
	}
	return nil
}
