package outbox

import "testing"

func TestBucketOf(t *testing.T) {
	if got, want := bucketOf([]byte("k"), "id-1"), bucketOf([]byte("k"), "id-2"); got != want {
		t.Errorf("one key in buckets %d and %d, want one bucket", got, want)
	}
	seen := map[int]bool{}
	for i := range 1000 {
		b := bucketOf(nil, string(rune(i))+"-id")
		if b < 0 || b >= buckets {
			t.Fatalf("bucket %d out of range", b)
		}
		seen[b] = true
	}
	if len(seen) < buckets/2 {
		t.Errorf("records without keys fell in %d buckets, want them spread", len(seen))
	}
}
