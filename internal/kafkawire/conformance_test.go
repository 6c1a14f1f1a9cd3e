package kafkawire

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/kafka"
	"github.com/arus-platform/arus/stream/streamtest"
)

// Arus's own Kafka engine, pointed at the listener, keeps the whole stream
// contract: the listener is a Kafka broker as far as the engine can tell.
// Retention stays off as for any Kafka broker (the engine leaves it to the
// broker); the engine restart stops the listener and the log under the
// running clients and starts them again on the same data and port.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite takes minutes")
	}
	var servers sync.Map // *testing.T → *server
	streamtest.Run(t, streamtest.Backend{
		Open: func(t *testing.T) func() stream.Broker {
			s := startServer(t)
			servers.Store(t, s)
			return func() stream.Broker {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				b, err := kafka.New(ctx, kafka.Config{
					Brokers:           []string{s.addr},
					SessionTimeout:    3 * time.Second,
					HeartbeatInterval: 100 * time.Millisecond,
					RebalanceTimeout:  5 * time.Second,
					Options:           stream.Options{Logger: testLogger()},
				})
				if err != nil {
					t.Fatalf("kafka.New: %v", err)
				}
				return b
			}
		},
		Features: streamtest.Features{
			RestartEngine: func(t *testing.T) {
				s, ok := servers.Load(t)
				if !ok {
					t.Fatal("RestartEngine: no listener was started for this test")
				}
				s.(*server).restart()
			},
			RebalanceTimeout: 20 * time.Second,
		},
	})
}
