//go:build linux || darwin || freebsd

package obs

import "syscall"

// diskSpace returns the bytes free to unprivileged users and the size of
// the file system holding dir.
func diskSpace(dir string) (free, size float64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bsize := float64(st.Bsize)
	return float64(st.Bavail) * bsize, float64(st.Blocks) * bsize, nil
}
