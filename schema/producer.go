package schema

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/arus-platform/arus/stream"
)

// HeaderSchemaID carries the id of the schema version a record's value was
// validated against, in decimal. Consumers look the schema up by it
// (GET /api/v1/schemas/ids/{id}, or Registry.ByID), even after the
// version was deleted.
const HeaderSchemaID = "arus-schema-id"

// ProducerConfig configures a [Producer].
type ProducerConfig struct {
	// Subject names the subject of a topic's values. Default TopicValue
	// ("<topic>-value").
	Subject SubjectFunc
	// Versions pins subjects to a version; the others use their latest.
	Versions map[string]int
	// Require refuses records whose subject has no schema. By default
	// they are produced as they are, without a schema id header.
	Require bool
}

// Validate checks the configuration and fills in defaults.
func (c *ProducerConfig) Validate() error {
	if c.Subject == nil {
		c.Subject = TopicValue
	}
	for subject, v := range c.Versions {
		if err := ValidateSubject(subject); err != nil {
			return fmt.Errorf("schema: producer: pinned %w", err)
		}
		if v < 1 {
			return fmt.Errorf("schema: producer: subject %s pinned to version %d: versions are numbered from 1", subject, v)
		}
	}
	return nil
}

// Producer is a stream.Producer that validates each record's value against
// the schema of its topic's subject before passing the records on, and
// stamps each validated record with the [HeaderSchemaID] header.
//
// A call is all or nothing: when any record fails validation (or its
// schema cannot be looked up), no record is produced and the error is a
// *stream.ProduceError naming every record as not stored, whose cause is
// the first failure, a [*ValidationError] for a value that does not match.
// It is safe for concurrent use when next is.
type Producer struct {
	next stream.Producer
	v    *Validator
	cfg  ProducerConfig
}

var _ stream.Producer = (*Producer)(nil)

// NewProducer returns a producer that validates with v and produces to
// next.
func NewProducer(next stream.Producer, v *Validator, cfg ProducerConfig) (*Producer, error) {
	if next == nil || v == nil {
		return nil, errors.New("schema: producer: needs a producer and a validator")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Producer{next: next, v: v, cfg: cfg}, nil
}

// Produce validates records, then produces them with next; see [Producer].
func (p *Producer) Produce(ctx context.Context, records ...*stream.Record) error {
	ids := make([]int64, len(records))
	for i, r := range records {
		subject := p.cfg.Subject(r.Topic)
		version, pinned := p.cfg.Versions[subject]
		if !pinned {
			version = Latest
		}
		used, err := p.v.Validate(ctx, subject, version, r.Value)
		switch {
		case err == nil:
			ids[i] = used.ID
		case errors.Is(err, ErrNotFound) && !pinned && !p.cfg.Require:
			// No schema for this topic: produced as it is.
		default:
			if errors.Is(err, ErrNotFound) {
				err = fmt.Errorf("%w: %w", stream.ErrInvalid, err)
			}
			return stream.AllFailed(len(records), fmt.Errorf("record %d (topic %s): %w", i, r.Topic, err))
		}
	}
	for i, r := range records {
		if ids[i] != 0 {
			r.SetHeader(HeaderSchemaID, []byte(strconv.FormatInt(ids[i], 10)))
		}
	}
	return p.next.Produce(ctx, records...)
}
