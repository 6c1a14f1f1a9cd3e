package relay

import (
	"encoding/json"
	"fmt"
)

// The relay's store keeps one file per entity: store_datasets.go,
// store_applications.go, store_destinations.go and store_routes.go. What
// they share is here.

type rowScanner interface{ Scan(dest ...any) error }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// unmarshalColumn decodes a JSON column into v. A stored value that is not
// what the relay wrote is an error, never an empty value: a route whose
// mapping could not be read must not deliver rows without it.
func unmarshalColumn(column, raw string, v any) error {
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return fmt.Errorf("relay: stored %s is corrupt: %w", column, err)
	}
	return nil
}
