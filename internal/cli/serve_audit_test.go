package cli_test

import (
	"strings"
	"testing"
)

// The audit retention comes from --audit-retention or its environment
// twin, and a negative one is refused before anything starts.
func TestAuditRetentionSetting(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flag", nil, []string{"--audit-retention", "-1h"}, "audit-retention -1h0m0s is negative"},
		{"environment", map[string]string{"ARUS_AUDIT_RETENTION": "-2h"}, nil, "audit-retention -2h0m0s is negative"},
		{"not a duration", map[string]string{"ARUS_AUDIT_RETENTION": "a week"}, nil, "audit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, tt.args...)
			r := arus(t, tt.env, "", args...)
			if r.err == nil || !strings.Contains(r.err.Error()+r.stderr, tt.want) {
				t.Errorf("arus %s: error %v, stderr %q; want one naming %q", strings.Join(args, " "), r.err, r.stderr, tt.want)
			}
		})
	}
}
