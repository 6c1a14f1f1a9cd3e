package obs

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descDiskFree  = prometheus.NewDesc("arus_data_directory_free_bytes", "Bytes free to unprivileged users on the file system of the data directory.", nil, nil)
	descDiskTotal = prometheus.NewDesc("arus_data_directory_size_bytes", "Size in bytes of the file system of the data directory.", nil, nil)
)

// DiskCollector reports the room left on the file system that holds a
// directory, read when scraped:
//
//	arus_data_directory_free_bytes   bytes free to unprivileged users
//	arus_data_directory_size_bytes   size of the file system
//
// When the file system cannot be read the metrics are left out of the
// scrape (and the failure is logged), so an alert on them fires on absence.
type DiskCollector struct {
	dir string
	log *slog.Logger
}

// NewDiskCollector returns a collector of the file system holding dir.
func NewDiskCollector(dir string, log *slog.Logger) *DiskCollector {
	return &DiskCollector{dir: dir, log: log}
}

// Describe sends the descriptors of both metrics.
func (c *DiskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDiskFree
	ch <- descDiskTotal
}

// Collect reads the file system's statistics.
func (c *DiskCollector) Collect(ch chan<- prometheus.Metric) {
	free, size, err := diskSpace(c.dir)
	if err != nil {
		c.log.Warn("metrics: read the data directory's file system", "dir", c.dir, "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descDiskFree, prometheus.GaugeValue, free)
	ch <- prometheus.MustNewConstMetric(descDiskTotal, prometheus.GaugeValue, size)
}
