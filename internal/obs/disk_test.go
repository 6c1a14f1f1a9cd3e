package obs

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestDiskCollector(t *testing.T) {
	dir := t.TempDir()
	_, size, err := diskSpace(dir)
	if err != nil {
		t.Skipf("no free space on this system: %v", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewDiskCollector(dir, slog.New(slog.DiscardHandler)))
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]float64{}
	for _, f := range families {
		got[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue()
	}
	if got["arus_data_directory_size_bytes"] != size {
		t.Errorf("arus_data_directory_size_bytes: got %v, want %v", got["arus_data_directory_size_bytes"], size)
	}
	// Free space moves with other writers on the machine: within the size is what can be asserted.
	if free := got["arus_data_directory_free_bytes"]; free <= 0 || free > size {
		t.Errorf("arus_data_directory_free_bytes: got %v, want in (0, %v]", free, size)
	}
}

func TestDiskCollectorMissingDirectory(t *testing.T) {
	var logs bytes.Buffer
	dir := filepath.Join(t.TempDir(), "gone")
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewDiskCollector(dir, slog.New(slog.NewTextHandler(&logs, nil))))
	families, err := reg.Gather()
	if err != nil || len(families) != 0 {
		t.Errorf("gather of a missing directory: got %d families, err %v; want 0, nil", len(families), err)
	}
	if !strings.Contains(logs.String(), dir) {
		t.Errorf("log: got %q, want it to name %s", logs.String(), dir)
	}
}
