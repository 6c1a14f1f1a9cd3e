package relay

import (
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/arus-platform/arus/invalid"
)

// target is where a destination connects: the database its password is
// bound to, and all its driver connection string is built from. A DSN is
// read into a target, never handed to a driver as given, so nothing the
// checks did not see reaches the driver.
type target struct {
	kind     string
	host     string // a host name or an IP address, nothing else
	port     int    // the dialect's default when not given
	database string
	user     string
	options  map[string]string // allowed options only, by their driver name
}

// defaultPorts are the dialects' default ports.
var defaultPorts = map[string]int{KindPostgres: 5432, KindMySQL: 3306, KindSQLServer: 1433}

// sameTarget reports whether a password saved for a may be sent to b: the
// kind, host, port, database and user are the same.
func sameTarget(a, b target) bool {
	return a.kind == b.kind && strings.EqualFold(a.host, b.host) && a.port == b.port &&
		a.database == b.database && a.user == b.user
}

const passwordHelp = "a password does not go here; put it in the password field, which is stored encrypted and never shown"

// parseTarget reads the target of d from its DSN or its connection fields
// and checks its options; what is wrong goes into ve, named by field.
func parseTarget(ve *invalid.Fields, d Destination) target {
	t := target{kind: d.Kind, host: d.Host, port: d.Port, database: d.Database, user: d.User, options: map[string]string{}}
	opts, field := d.Options, "options."
	if d.DSN != "" {
		var ok bool
		if t, opts, ok = parseDSN(ve, d.Kind, d.DSN); !ok {
			return t
		}
		field = "dsn: option "
	}
	if t.kind != KindSQLite {
		checkHost(ve, t.host, d.DSN != "")
		if t.port == 0 {
			t.port = defaultPorts[t.kind]
		}
	}
	for name, value := range opts {
		canon, msg := checkOption(t.kind, name, value)
		if msg != "" {
			if d.DSN != "" {
				ve.Add("dsn", "option %q: %s", name, msg)
			} else {
				ve.Add(field+name, "%s", msg)
			}
			continue
		}
		t.options[canon] = value
	}
	return t
}

// hostName is a DNS name: letters, digits, '-', '_' and dots.
var hostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$`)

// checkHost accepts one host name or IP address: no lists, ports, paths
// or instance names, which drivers would read as more than one place.
func checkHost(ve *invalid.Fields, host string, inDSN bool) {
	field := "host"
	if inDSN {
		field = "dsn"
	}
	if host == "" {
		if inDSN {
			ve.Add("dsn", "names no host")
		}
		return // the required-field check names it
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return
	}
	if !hostName.MatchString(host) {
		ve.Add(field, "give one host name or IP address (no lists, ports, paths or instance names): %q", host)
	}
}

// parseDSN reads a DSN of the kind into a target and its options. Only
// the forms whose every part Arus understands are taken: a postgres:// or
// sqlserver:// URL, and the go-sql-driver/mysql form over TCP. A password
// anywhere in it is refused.
func parseDSN(ve *invalid.Fields, kind, dsn string) (target, map[string]string, bool) {
	t := target{kind: kind, options: map[string]string{}}
	switch kind {
	case KindSQLite:
		ve.Add("dsn", "SQLite destinations take no DSN; give the file in database, relative to the server's SQLite directory")
		return t, nil, false
	case KindMySQL:
		return parseMySQLDSN(ve, t, dsn)
	}
	schemes := map[string][]string{KindPostgres: {"postgres", "postgresql"}, KindSQLServer: {"sqlserver"}}[kind]
	form := map[string]string{KindPostgres: "postgres://user@host:5432/database?option=value",
		KindSQLServer: "sqlserver://user@host:1433?database=name&option=value"}[kind]
	u, err := url.Parse(dsn)
	if err != nil || u.Opaque != "" || u.Host == "" || !containsFold(schemes, u.Scheme) || u.Fragment != "" {
		ve.Add("dsn", "use the URL form %s, or the connection fields", form)
		return t, nil, false
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			ve.Add("dsn", "must not hold the password; "+passwordHelp)
			return t, nil, false
		}
		t.user = u.User.Username()
	}
	t.host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			ve.Add("dsn", "port %q: use 1 to 65535", p)
			return t, nil, false
		}
		t.port = n
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		ve.Add("dsn", "query: %v", err)
		return t, nil, false
	}
	path := strings.TrimPrefix(u.Path, "/")
	switch kind {
	case KindPostgres:
		t.database = path
	case KindSQLServer:
		if path != "" {
			ve.Add("dsn", "named instances (%q) are not supported: give the instance's port", path)
			return t, nil, false
		}
		for k, v := range q {
			if strings.EqualFold(k, "database") && len(v) > 0 {
				t.database = v[0]
				delete(q, k)
			}
		}
	}
	opts, ok := single(ve, q)
	return t, opts, ok
}

// parseMySQLDSN reads user@tcp(host:port)/database?options. The options
// are taken as written, by the names they were given, and never reach the
// driver's parser: only the allowed ones are built into the connection
// string.
func parseMySQLDSN(ve *invalid.Fields, t target, dsn string) (target, map[string]string, bool) {
	base, query := dsn, ""
	if i := strings.LastIndexByte(dsn, '/'); i >= 0 {
		if j := strings.IndexByte(dsn[i:], '?'); j >= 0 {
			base, query = dsn[:i+j], dsn[i+j+1:]
		}
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		ve.Add("dsn", "%v; use the form user@tcp(host:3306)/database?option=value, or the connection fields", err)
		return t, nil, false
	}
	if cfg.Passwd != "" {
		ve.Add("dsn", "must not hold the password; "+passwordHelp)
		return t, nil, false
	}
	if cfg.Net != "tcp" {
		ve.Add("dsn", "network %q is not supported: use tcp(host:port)", cfg.Net)
		return t, nil, false
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		ve.Add("dsn", "address %q: %v", cfg.Addr, err)
		return t, nil, false
	}
	t.host, t.user, t.database = host, cfg.User, cfg.DBName
	if t.port, err = strconv.Atoi(port); err != nil || t.port < 1 || t.port > 65535 {
		ve.Add("dsn", "port %q: use 1 to 65535", port)
		return t, nil, false
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		ve.Add("dsn", "query: %v", err)
		return t, nil, false
	}
	opts, ok := single(ve, q)
	return t, opts, ok
}

func single(ve *invalid.Fields, q url.Values) (map[string]string, bool) {
	opts := map[string]string{}
	for k, v := range q {
		if len(v) != 1 {
			ve.Add("dsn", "option %q is given %d times", k, len(v))
			return nil, false
		}
		opts[k] = v[0]
	}
	return opts, true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// dsnOf builds the driver connection string of a checked target with the
// password; SQLite's is built from its resolved path (sqliteDSN).
func dsnOf(t target, password string) string {
	hostport := net.JoinHostPort(t.host, strconv.Itoa(t.port))
	q := url.Values{}
	for k, v := range t.options {
		q.Set(k, v)
	}
	switch t.kind {
	case KindPostgres:
		u := url.URL{Scheme: "postgres", User: url.UserPassword(t.user, password), Host: hostport, Path: "/" + t.database, RawQuery: q.Encode()}
		return u.String()
	case KindSQLServer:
		q.Set("database", t.database)
		u := url.URL{Scheme: "sqlserver", User: url.UserPassword(t.user, password), Host: hostport, RawQuery: q.Encode()}
		return u.String()
	case KindMySQL:
		// The options pass through the driver's own parser, then the
		// connection fields are set, so no value can be read as another.
		cfg, err := mysql.ParseDSN("/?" + q.Encode())
		if err != nil {
			cfg = mysql.NewConfig()
		}
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = t.user, password, "tcp", hostport, t.database
		return cfg.FormatDSN()
	}
	return ""
}

// redacted stands for a secret a destination saved under older rules
// holds in its DSN or options; reads never show the secret itself.
const redacted = "REDACTED"

// redactSecrets replaces any password in d's DSN or options with
// redacted. The rules keep passwords out of both, so this only matters
// for a destination saved before them; such a destination is refused when
// opened and must be saved again with its password in the password field.
func redactSecrets(d *Destination) {
	for k := range d.Options {
		if refusedOptions[strings.ToLower(k)] == passwordHelp {
			d.Options[k] = redacted
		}
	}
	if d.DSN == "" {
		return
	}
	if cfg, err := mysql.ParseDSN(d.DSN); d.Kind == KindMySQL && err == nil && cfg.Passwd != "" {
		cfg.Passwd = redacted
		d.DSN = cfg.FormatDSN()
		return
	}
	u, err := url.Parse(d.DSN)
	if err != nil || u.Opaque != "" {
		if strings.Contains(strings.ToLower(d.DSN), "password") {
			d.DSN = redacted
		}
		return
	}
	changed := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User, changed = url.UserPassword(u.User.Username(), redacted), true
		}
	}
	q := u.Query()
	for k := range q {
		if refusedOptions[strings.ToLower(k)] == passwordHelp {
			q.Set(k, redacted)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
		d.DSN = u.String()
	}
}
