package stream

import "sync/atomic"

// Partition returns the partition of key among n partitions: the positive
// murmur2 hash of the key modulo n. It is the function of Kafka's default
// partitioner (and of librdkafka's "murmur2_random"), so a key lands on the
// same partition whether it was written by Arus, a Java client or franz-go.
func Partition(key []byte, n int32) int32 {
	return int32(uint32(murmur2(key))&0x7fffffff) % n
}

// murmur2 is the 32-bit MurmurHash2 with Kafka's seed, as in
// org.apache.kafka.common.utils.Utils.murmur2.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// Partitioner assigns partitions to records: [Partition] for records with a
// key, round robin for records without one (a nil key). An empty, non-nil
// key is a key: it is hashed, so all such records share one partition, as
// with the Java producer and librdkafka's murmur2_random partitioner. It is
// safe for concurrent use; the zero value is ready.
type Partitioner struct {
	next atomic.Uint32
}

// Partition returns the partition for key among n partitions.
func (p *Partitioner) Partition(key []byte, n int32) int32 {
	if key != nil {
		return Partition(key, n)
	}
	return int32(p.next.Add(1) % uint32(n))
}
