package inventory

import "testing"

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true}, {"2023-03-20-345-2612", true}, {"VIP_1.b:c", true}, {string(make([]byte, 65)), false},
		{"", false}, {"-a", false}, {"_a", false}, {"a/b", false}, {"a b", false}, {"é", false},
		{"x234567890123456789012345678901234567890123456789012345678901234", true},
		{"x2345678901234567890123456789012345678901234567890123456789012345", false},
	}
	for _, tt := range tests {
		if got := validID(tt.id); got != tt.want {
			t.Errorf("validID(%q): got %v, want %v", tt.id, got, tt.want)
		}
	}
}
