package relay

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// An option is a driver setting a destination may carry, in its options
// or in its DSN's query. Each dialect takes only the options listed here,
// with values checked; anything else is refused by name. None of them
// makes a driver read a file, load local data or send the password
// anywhere; docs/security.md lists them.
type option struct {
	name  string // as the driver spells it
	check func(string) error
	help  string
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		if !containsFold(values, v) {
			return fmt.Errorf("use one of %s", strings.Join(values, ", "))
		}
		return nil
	}
}

func intRange(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("use a whole number from %d to %d", lo, hi)
		}
		return nil
	}
}

func matches(re *regexp.Regexp, what string) func(string) error {
	return func(v string) error {
		if !re.MatchString(v) {
			return fmt.Errorf("use %s", what)
		}
		return nil
	}
}

func goDuration(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > time.Hour {
		return fmt.Errorf("use a duration such as 5s, up to 1h")
	}
	return nil
}

var (
	pgDuration = matches(regexp.MustCompile(`^[0-9]{1,9}(ms|s|min|h)?$`), "milliseconds, or a number with ms, s, min or h")
	word       = matches(regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`), "letters, digits and '_'")
	words      = matches(regexp.MustCompile(`^[A-Za-z0-9_]{1,64}(,[A-Za-z0-9_]{1,64}){0,7}$`), "names of letters, digits and '_', separated by commas")
	label      = matches(regexp.MustCompile(`^[A-Za-z0-9 _.:/-]{1,64}$`), "up to 64 letters, digits, spaces and _ . : / -")
	schemaPath = matches(regexp.MustCompile(`^[A-Za-z0-9_$", ]{1,256}$`), `schema names separated by commas`)
	hostValue  = matches(hostName, "a host name")
	zoneValue  = matches(regexp.MustCompile(`^[A-Za-z0-9_+/:-]{1,64}$`), "a time zone name such as UTC or Europe/Berlin")
)

// dialectOptions are the allowlists, by destination kind.
var dialectOptions = map[string][]option{
	KindPostgres: {
		{"sslmode", oneOf("disable", "allow", "prefer", "require", "verify-ca", "verify-full"), "TLS: disable … verify-full (system roots)"},
		{"connect_timeout", intRange(0, 3600), "seconds to wait for a connection"},
		{"application_name", label, "the name the server shows for the connection"},
		{"search_path", schemaPath, "the schemas searched for unqualified tables"},
		{"statement_timeout", pgDuration, "server setting"},
		{"lock_timeout", pgDuration, "server setting"},
		{"idle_in_transaction_session_timeout", pgDuration, "server setting"},
		{"TimeZone", zoneValue, "server setting"},
	},
	KindMySQL: {
		{"tls", oneOf("true", "false", "skip-verify", "preferred"), "TLS: true (verified), false, skip-verify or preferred"},
		{"timeout", goDuration, "dial timeout, such as 5s"},
		{"readTimeout", goDuration, "I/O read timeout"},
		{"writeTimeout", goDuration, "I/O write timeout"},
		{"charset", words, "connection character sets"},
		{"collation", word, "connection collation"},
	},
	KindSQLServer: {
		{"encrypt", oneOf("true", "false", "disable", "strict"), "TLS: true, false, disable or strict"},
		{"TrustServerCertificate", oneOf("true", "false"), "accept any server certificate"},
		{"hostNameInCertificate", hostValue, "the name the certificate must carry"},
		{"connection timeout", intRange(0, 3600), "seconds to wait for a connection"},
		{"dial timeout", intRange(0, 3600), "seconds to wait for the TCP connection"},
		{"app name", label, "the name the server shows for the connection"},
	},
	KindSQLite: {
		{"journal_mode", oneOf("DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL"), "PRAGMA journal_mode"},
		{"synchronous", oneOf("OFF", "NORMAL", "FULL", "EXTRA"), "PRAGMA synchronous"},
		{"busy_timeout", intRange(0, 600000), "milliseconds to wait for another writer"},
	},
}

// refusedOptions explain why a well-known option is never taken.
var refusedOptions = map[string]string{
	"password": passwordHelp, "pwd": passwordHelp, "passwd": passwordHelp, "sslpassword": passwordHelp,
	"passfile": "reads a file on the server; never allowed",
	"sslkey":   "reads a file on the server; never allowed", "sslcert": "reads a file on the server; never allowed",
	"sslrootcert": "reads a file on the server; never allowed", "sslcrl": "reads a file on the server; never allowed",
	"service": "reads a file on the server; never allowed", "servicefile": "reads a file on the server; never allowed",
	"allowallfiles":           "lets the server read any local file; never allowed",
	"allowlocalinfile":        "lets the server read local files; never allowed",
	"allowcleartextpasswords": "sends the password in clear; never allowed",
	"allowoldpasswords":       "uses a broken password hash; never allowed",
	"certificate":             "reads a file on the server; never allowed",
	"serverpubkey":            "names a key registered in the server process; never allowed",
	"multistatements":         "never allowed",
	"_pragma":                 "runs SQL when the file is opened; never allowed",
	"vfs":                     "never allowed",
	"host":                    "use the host field", "hostaddr": "use the host field", "server": "use the host field",
	"port": "use the port field", "dbname": "use the database field", "database": "use the database field",
	"user": "use the user field", "user id": "use the user field", "username": "use the user field",
}

// checkOption checks one option of a destination of the kind; it returns
// the option's name as the driver spells it, or why it is refused.
func checkOption(kind, name, value string) (string, string) {
	if why, ok := refusedOptions[strings.ToLower(name)]; ok {
		return "", why
	}
	opts := dialectOptions[kind]
	i := slices.IndexFunc(opts, func(o option) bool {
		// SQL Server's driver reads option names in any case.
		return o.name == name || kind == KindSQLServer && strings.EqualFold(o.name, name)
	})
	if i < 0 {
		return "", fmt.Sprintf("is not an option %s destinations take; allowed: %s", kind, optionNames(kind))
	}
	if err := opts[i].check(value); err != nil {
		return "", fmt.Sprintf("%q: %v", value, err)
	}
	return opts[i].name, ""
}

func optionNames(kind string) string {
	var names []string
	for _, o := range dialectOptions[kind] {
		names = append(names, o.name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
