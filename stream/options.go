package stream

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Options are the settings every backend shares.
type Options struct {
	// Strict turns off the creation of unknown topics on first produce or
	// consume; they then fail with ErrTopicNotFound.
	Strict bool
	// DefaultPartitions is the partition count of topics created on first
	// use. Default 4.
	DefaultPartitions int32
	// MaxRecordBytes is the largest record accepted (key, value and headers).
	// Default 1 MiB.
	MaxRecordBytes int
	// Logger receives the backend's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	if o.DefaultPartitions == 0 {
		o.DefaultPartitions = 4
	}
	if err := ValidatePartitions(o.DefaultPartitions); err != nil {
		return fmt.Errorf("default partitions: %w", err)
	}
	if o.MaxRecordBytes < 0 {
		return Invalidf("max record bytes %d is negative", o.MaxRecordBytes)
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Prepare validates records before they are produced and stamps the record
// id and timestamp where they are missing. It does not assign partitions. On
// a bad record it returns a [*ProduceError] failing every record, since
// Produce stores all or none of a call's valid batch.
func (o *Options) Prepare(records []*Record) error {
	now := time.Now()
	stampIDs(records)
	for i, r := range records {
		if r == nil {
			return AllFailed(len(records), Invalidf("record %d is nil", i))
		}
		if err := ValidateTopicName(r.Topic); err != nil {
			return AllFailed(len(records), fmt.Errorf("record %d: %w", i, err))
		}
		if size := r.Size(); size > o.MaxRecordBytes {
			return AllFailed(len(records), fmt.Errorf("%w: record %d for topic %q is %d bytes; the maximum is %d",
				ErrRecordTooLarge, i, r.Topic, size, o.MaxRecordBytes))
		}
		if _, ok := r.Header(HeaderID); !ok {
			r.Headers = append(r.Headers, Header{Key: HeaderID, Value: []byte(NewID())})
		}
		if r.Timestamp.IsZero() {
			r.Timestamp = now
		}
	}
	return nil
}

// DefaultMember returns a member name made of the host name, the process id
// and a random suffix.
func DefaultMember() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "arus"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
