package stream

import "testing"

// The expected values are those of Kafka's UtilsTest.testMurmur2.
func TestMurmur2MatchesKafka(t *testing.T) {
	cases := []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
		{"", 0x106e08d9}, // librdkafka's rdmurmur2 unit test
	}
	for _, c := range cases {
		if got := murmur2([]byte(c.in)); got != c.want {
			t.Errorf("murmur2(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPartitionIsStableAndInRange(t *testing.T) {
	for n := int32(1); n <= 64; n++ {
		for i := 0; i < 200; i++ {
			key := []byte{byte(i), byte(i * 7), 'k'}
			p := Partition(key, n)
			if p < 0 || p >= n {
				t.Fatalf("Partition(%v, %d) = %d, out of range", key, n, p)
			}
			if again := Partition(key, n); again != p {
				t.Fatalf("Partition(%v, %d) = %d then %d", key, n, p, again)
			}
		}
	}
}

func TestPartitionerSpreadsKeylessRecords(t *testing.T) {
	var p Partitioner
	seen := map[int32]int{}
	for i := 0; i < 800; i++ {
		seen[p.Partition(nil, 8)]++
	}
	for part := int32(0); part < 8; part++ {
		if seen[part] != 100 {
			t.Errorf("partition %d got %d keyless records, want 100", part, seen[part])
		}
	}
}

func TestPartitionerHashesEmptyKey(t *testing.T) {
	var p Partitioner
	want := Partition([]byte{}, 8)
	for i := 0; i < 100; i++ {
		if got := p.Partition([]byte{}, 8); got != want {
			t.Fatalf("empty key %d went to partition %d, want %d (hashed, as Java and librdkafka's murmur2_random)", i, got, want)
		}
	}
}
