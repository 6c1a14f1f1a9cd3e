package server

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// parseTrustedProxies reads a comma-separated list of addresses and CIDRs.
func parseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR such as 10.0.0.0/8", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// makeDataDir creates the data directory with mode 0700, and takes group
// and other access away from one that exists: every file Arus keeps there
// (stores, the embedded log, the secret key) is the server's alone.
func (s *Server) makeDataDir() error {
	if err := os.MkdirAll(s.cfg.Data, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	info, err := os.Stat(s.cfg.Data)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		if err := os.Chmod(s.cfg.Data, mode&^fs.FileMode(0o077)); err != nil {
			s.log.Warn("data directory: could not take group and other access away", "dir", s.cfg.Data, "mode", fmt.Sprintf("%04o", mode), "err", err)
		} else {
			s.log.Info("data directory: took group and other access away", "dir", s.cfg.Data, "was", fmt.Sprintf("%04o", mode))
		}
	}
	return nil
}

// hstsValue is the Strict-Transport-Security header: browsers that saw it
// over HTTPS use only HTTPS with this host for a year.
const hstsValue = "max-age=31536000"

// hsts adds Strict-Transport-Security to answers given over TLS, or over
// plain HTTP behind a TLS-terminating proxy (--secure-cookies): browsers
// heed it only on HTTPS responses.
func (s *Server) hsts(w http.ResponseWriter, r *http.Request) {
	if r.TLS != nil || s.cfg.SecureCookies {
		w.Header().Set("Strict-Transport-Security", hstsValue)
	}
}
