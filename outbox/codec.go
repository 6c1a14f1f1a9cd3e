package outbox

import "hash/fnv"

// buckets is the number of key buckets, fixed by the first migration: a
// key's rows are all in bucketOf(key) and forwarders claim whole buckets.
const buckets = 64

// bucketOf returns the bucket of a record: by key, so that one forwarder at
// a time publishes a key's records, or by id for records without a key,
// which have no order to keep.
func bucketOf(key []byte, id string) int {
	h := fnv.New32a()
	if key != nil {
		h.Write(key)
	} else {
		h.Write([]byte(id))
	}
	return int(h.Sum32() % buckets)
}
