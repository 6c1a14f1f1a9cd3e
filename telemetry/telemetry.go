// Package telemetry holds what Arus's components share to report on
// themselves: registering their Prometheus collectors (the outbox forwarder
// and inbox, the saga orchestrator, the relay) on the registry a service or
// the server gives them.
package telemetry

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it. When a collector with the
// same description is registered there already (a second forwarder of one
// outbox, an orchestrator opened again after a restart of its component, a
// second relay engine in one process), Register returns that collector
// instead, so that both count into the same series. Any other refusal is
// an error.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register metrics: %w", err)
}
