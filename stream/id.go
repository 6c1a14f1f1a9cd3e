package stream

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"

	"github.com/google/uuid"
)

// v7clock hands out the 60-bit time fields of UUIDv7s (RFC 9562): Unix
// milliseconds, then 12 bits of sub-millisecond time used as a counter
// (method 3 of section 6.2), so that the ids of a process are strictly
// increasing, as uuid.NewV7 makes them. A produce call takes all of its
// values under one lock and one reading of the clock.
var v7clock struct {
	sync.Mutex
	last int64
}

// reserveV7 returns the first of n consecutive, never before returned
// time fields.
func reserveV7(n int) int64 {
	now := time.Now()
	t := now.UnixMilli()<<12 | (now.UnixNano()%1e6)*4096/1e6
	v7clock.Lock()
	if t <= v7clock.last {
		t = v7clock.last + 1
	}
	v7clock.last = t + int64(n) - 1
	v7clock.Unlock()
	return t
}

// makeV7 builds the UUIDv7 of a time field and 8 random bytes.
func makeV7(t int64, random []byte) (id uuid.UUID) {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(t>>12)<<16)
	copy(id[:6], ts[:6])
	id[6] = 0x70 | byte(t>>8)&0x0f // version 7
	id[7] = byte(t)
	copy(id[8:], random[:8])
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id
}

// stampIDs gives every record without a [HeaderID] a new id for a whole
// produce call at once: one read of the system's random source and one
// allocation each for the ids and the headers, instead of several per
// record. The ids are UUIDv7 strings from the same clock as [NewID], ordered
// by creation time. Should the random source fail, Prepare stamps the records
// one by one.
func stampIDs(records []*Record) {
	n := 0
	for _, r := range records {
		if r != nil && !hasID(r) {
			n++
		}
	}
	if n == 0 {
		return
	}
	random := make([]byte, 8*n)
	if _, err := rand.Read(random); err != nil {
		return
	}
	t := reserveV7(n)
	text := make([]byte, 36*n)
	hdrs := make([]Header, n)
	j := 0
	for _, r := range records {
		if r == nil || hasID(r) {
			continue
		}
		v := text[36*j : 36*j+36 : 36*j+36]
		encodeUUID(v, makeV7(t+int64(j), random[8*j:]))
		hdrs[j] = Header{Key: HeaderID, Value: v}
		if len(r.Headers) == 0 {
			r.Headers = hdrs[j : j+1 : j+1]
		} else {
			r.Headers = append(r.Headers, hdrs[j])
		}
		j++
	}
}

func hasID(r *Record) bool {
	for _, h := range r.Headers {
		if h.Key == HeaderID {
			return true
		}
	}
	return false
}

// encodeUUID writes id in its canonical 36-character form to dst.
func encodeUUID(dst []byte, id uuid.UUID) {
	hex.Encode(dst[0:8], id[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], id[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], id[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], id[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], id[10:16])
}
