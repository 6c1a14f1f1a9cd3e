//go:build !unix

package embedded

import (
	"fmt"
	"os"
)

// lockDir opens the lock file. On systems without flock the directory is not
// protected against a second process.
func lockDir(dir, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded: open lock file in %s: %w", dir, err)
	}
	return f, nil
}

func unlockDir(f *os.File) error { return f.Close() }
