package stream

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateTopicName(t *testing.T) {
	cases := []struct {
		name    string
		wantErr string // substring; "" means valid
	}{
		{"orders", ""},
		{"orders.v1_eu-west", ""},
		{strings.Repeat("a", 249), ""},
		{"", "empty"},
		{".", "not allowed"},
		{"..", "not allowed"},
		{strings.Repeat("a", 250), "250 characters long; the limit is 249"},
		{"with space", `' ' at position 5`},
		{"slash/topic", `'/' at position 6`},
		{"ünicode", "byte 0xc3 at position 1"},
	}
	for _, c := range cases {
		err := ValidateTopicName(c.name)
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("ValidateTopicName(%q) = %v, want nil", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateTopicName(%q) = %v, want ErrInvalid containing %q", c.name, err, c.wantErr)
		}
	}
}

func TestValidatePartitions(t *testing.T) {
	for _, n := range []int32{1, 8, MaxPartitions} {
		if err := ValidatePartitions(n); err != nil {
			t.Errorf("ValidatePartitions(%d) = %v", n, err)
		}
	}
	for _, n := range []int32{0, -1, MaxPartitions + 1} {
		err := ValidatePartitions(n)
		if err == nil || !strings.Contains(err.Error(), "use 1 to 10000") {
			t.Errorf("ValidatePartitions(%d) = %v, want range error", n, err)
		}
	}
}

func TestValidateGroupName(t *testing.T) {
	cases := []struct {
		name    string
		wantErr string // substring; "" means valid
	}{
		{"billing", ""},
		{"svc:billing/v2", ""},
		{"with space and ünicode 订单", ""},
		{"..", ""},
		{strings.Repeat("g", MaxGroupNameLength), ""},
		{"", "empty"},
		{strings.Repeat("g", MaxGroupNameLength+1), "the limit is 32767"},
		{"bad\xffutf8", "not valid UTF-8"},
		{"tab\tinside", "control character U+0009 at byte 4"},
	}
	for _, c := range cases {
		err := ValidateGroupName(c.name)
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("ValidateGroupName(%.50q) = %v, want nil", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateGroupName(%.50q) = %v, want ErrInvalid containing %q", c.name, err, c.wantErr)
		}
	}
}
