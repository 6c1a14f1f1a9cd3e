package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// errAddressRefused is a destination host whose address the host policy
// refuses; no connection was attempted.
var errAddressRefused = errors.New("relay: the destination's address is refused by the host policy")

// refusedNets are never reached unless an allowed CIDR names them:
// link-local addresses, where cloud metadata services answer, and the
// metadata addresses outside those ranges.
var refusedNets = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),     // IPv4 link-local; AWS, GCP, Azure, OpenStack metadata at .169.254
	netip.MustParsePrefix("fe80::/10"),          // IPv6 link-local
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS metadata over IPv6
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
	netip.MustParsePrefix("168.63.129.16/32"),   // Azure platform endpoint
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network": reaches the local host on some systems
	netip.MustParsePrefix("::/128"),
}

// refusedNames are metadata services' host names, refused by name too.
var refusedNames = []string{"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
	"instance-data.ec2.internal", "metadata.azure.internal", "metadata.tencentyun.com"}

// HostPolicy says which hosts destinations may reach: by default any but
// link-local and cloud metadata addresses; with an allowlist, only the
// hosts and CIDRs it names. Addresses are checked when a connection is
// made, after the name is resolved, so a name that resolves to a refused
// address is refused.
type HostPolicy struct {
	names []string // lower case; "*.example.com" matches its subdomains
	nets  []netip.Prefix
}

// ParseHostPolicy reads an allowlist of host names ("db.example.com",
// "*.example.com") and CIDRs or addresses ("10.0.0.0/8", "192.0.2.7").
// An empty list allows every host but the refused ones.
func ParseHostPolicy(list []string) (HostPolicy, error) {
	var p HostPolicy
	for _, e := range list {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			continue
		case strings.Contains(e, "/"):
			pfx, err := netip.ParsePrefix(e)
			if err != nil {
				return HostPolicy{}, fmt.Errorf("relay: allowed host %q: %w", e, err)
			}
			p.nets = append(p.nets, pfx.Masked())
		default:
			if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
				a = a.Unmap().WithZone("")
				p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			if !hostName.MatchString(strings.TrimPrefix(e, "*.")) {
				return HostPolicy{}, fmt.Errorf("relay: allowed host %q: use a host name, *.domain, an address or a CIDR", e)
			}
			p.names = append(p.names, strings.ToLower(e))
		}
	}
	return p, nil
}

func (p HostPolicy) restricted() bool { return len(p.names) > 0 || len(p.nets) > 0 }

func (p HostPolicy) nameAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, n := range p.names {
		if n == host || strings.HasPrefix(n, "*.") && strings.HasSuffix(host, n[1:]) {
			return true
		}
	}
	return false
}

func (p HostPolicy) netAllowed(a netip.Addr) bool {
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// addrAllowed reports whether a connection to a, resolved from host, may
// be made.
func (p HostPolicy) addrAllowed(host string, a netip.Addr) bool {
	// A zone would make every prefix miss: fe80::1%eth0 is fe80::1.
	a = a.Unmap().WithZone("")
	explicit := p.netAllowed(a)
	for _, n := range refusedNets {
		if n.Contains(a) && !explicit {
			return false
		}
	}
	return !p.restricted() || explicit || p.nameAllowed(host)
}

// checkName is the check of a destination's host before any lookup: a
// metadata name, a refused address, or (with an allowlist of names only)
// a name it does not hold is a field error. The rest is checked on
// connection.
func (p HostPolicy) checkName(host string) string {
	const help = "link-local and cloud metadata addresses are never reached, and --relay-allow-hosts limits the rest"
	h := strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if a, err := netip.ParseAddr(h); err == nil {
		if !p.addrAllowed(host, a) {
			return fmt.Sprintf("%s is not an address destinations may reach: %s", host, help)
		}
		return ""
	}
	for _, n := range refusedNames {
		if h == n && !p.nameAllowed(h) {
			return fmt.Sprintf("%s is a cloud metadata service: %s", host, help)
		}
	}
	if p.restricted() && len(p.nets) == 0 && !p.nameAllowed(h) {
		return fmt.Sprintf("%s is not a host destinations may reach: %s", host, help)
	}
	return ""
}

// dialer returns the function that makes a destination's connections:
// it resolves the address, refuses it unless every address it resolves to
// is allowed for host (the name the destination was given), and connects
// to the checked address itself, so a second lookup cannot change it.
func (p HostPolicy) dialer(host string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch network {
		case "tcp", "tcp4", "tcp6":
		default:
			return nil, fmt.Errorf("%w: network %q", errAddressRefused, network)
		}
		h, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(h); err == nil {
			addrs = []netip.Addr{a}
		} else if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", h); err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("relay: %s resolves to no address", h)
		}
		for _, a := range addrs {
			if !p.addrAllowed(host, a) {
				return nil, errAddressRefused
			}
		}
		var d net.Dialer
		var last error
		for _, a := range addrs {
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(a.Unmap().String(), port))
			if err == nil {
				return c, nil
			}
			last = err
		}
		return nil, last
	}
}
