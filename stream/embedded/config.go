package embedded

import (
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Synchronous is SQLite's synchronous setting for the log: when a commit is
// flushed to stable storage.
type Synchronous string

const (
	// SyncFull fsyncs the write-ahead log on every commit, so that every
	// acknowledged record survives a kill -9 of the process and a power loss
	// or operating system crash. It is the default.
	SyncFull Synchronous = "FULL"
	// SyncNormal fsyncs only when the write-ahead log is checkpointed into
	// the database. Acknowledged records survive a kill -9 of the process
	// (the operating system still holds the writes), but a power loss or an
	// operating system crash may lose the last commits before it. It is
	// faster where fsync is slow.
	SyncNormal Synchronous = "NORMAL"
)

// Defaults of [Config].
const (
	DefaultRetentionInterval = time.Minute
)

// Config configures an embedded broker.
type Config struct {
	// Dir is the data directory; required. It is created (mode 0750) when
	// missing. The log lives in Dir/stream.db with its write-ahead log
	// beside it, and Dir/stream.lock keeps a second process from opening
	// the same directory.
	Dir string
	// Synchronous is SyncFull (the default) or SyncNormal; see their
	// documentation for what each survives.
	Synchronous Synchronous
	// RetentionInterval is how often retention runs in the background.
	// Default 1 minute; a negative value turns the background run off
	// ([Broker.EnforceRetention] still works).
	RetentionInterval time.Duration
	// HardCapBytes caps the bytes of records the log keeps over all topics.
	// When retention finds more, it deletes the oldest records of every
	// partition, in proportion to its size, until the log is under the cap, even records that
	// registered groups have not consumed, and logs a warning for each such
	// deletion ([Broker.Stats] counts them). Zero means no cap.
	HardCapBytes int64
	// Options are the settings every backend shares (strict topics, default
	// partition count, maximum record size, logger).
	stream.Options
}

// Validate checks the configuration and fills in defaults. Its errors wrap
// [stream.ErrInvalid] and name the setting.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return stream.Invalidf("embedded: config Dir is empty; set the data directory")
	}
	if strings.ContainsRune(c.Dir, '?') {
		return stream.Invalidf("embedded: config Dir %q contains '?', which SQLite file names cannot hold here; choose another directory", c.Dir)
	}
	switch c.Synchronous {
	case "":
		c.Synchronous = SyncFull
	case SyncFull, SyncNormal:
	default:
		return stream.Invalidf("embedded: config Synchronous %q is unknown; use %q or %q", string(c.Synchronous), SyncFull, SyncNormal)
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = DefaultRetentionInterval
	}
	if c.HardCapBytes < 0 {
		return stream.Invalidf("embedded: config HardCapBytes %d is negative; use 0 for no cap", c.HardCapBytes)
	}
	if err := c.Options.Validate(); err != nil {
		return fmt.Errorf("embedded: config Options: %w", err)
	}
	return nil
}
