package stream

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"

	"github.com/google/uuid"
)

// stampIDs gives every record without a [HeaderID] a new id for a whole
// produce call at once: one read of the system's random source and one
// allocation each for the ids and the headers, instead of several per
// record. The ids are the same UUIDv7 strings as [NewID] returns, ordered by
// creation time. Should the random source fail, Prepare stamps the records
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
	random := make([]byte, 16*n)
	if _, err := rand.Read(random); err != nil {
		return
	}
	src := bytes.NewReader(random)
	text := make([]byte, 36*n)
	hdrs := make([]Header, n)
	j := 0
	for _, r := range records {
		if r == nil || hasID(r) {
			continue
		}
		id, err := uuid.NewV7FromReader(src)
		if err != nil {
			return
		}
		t := text[36*j : 36*j+36 : 36*j+36]
		encodeUUID(t, id)
		hdrs[j] = Header{Key: HeaderID, Value: t}
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
