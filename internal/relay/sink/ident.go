package sink

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxIdentLen bounds identifiers in bytes: the longest any supported
// dialect allows (SQL Server's 128).
const maxIdentLen = 128

// checkIdent rejects names that no route should ever carry, before they are
// looked up in the catalogue: empty or over-long names, invalid UTF-8, NUL
// and other control characters, and unbalanced quote characters (an odd
// number of " or `), which are what a name crafted to break out of its
// quoting looks like. Everything else is
// quoted by doubling the dialect's quote character, so a name that passes
// here and exists in the catalogue cannot change the statement it is in.
func checkIdent(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("sink: empty identifier")
	case len(name) > maxIdentLen:
		return fmt.Errorf("sink: identifier %.20q... is longer than %d bytes", name, maxIdentLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("sink: identifier %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("sink: identifier %q contains a control character", name)
		}
	}
	if strings.Count(name, `"`)%2 != 0 || strings.Count(name, "`")%2 != 0 {
		return fmt.Errorf("sink: identifier %q has an unbalanced quote", name)
	}
	return nil
}

// quoteWith quotes name between open and close, doubling every close
// character inside (the SQL standard's escape for quoted identifiers).
func quoteWith(name string, open, close byte) string {
	var b strings.Builder
	b.Grow(len(name) + 2)
	b.WriteByte(open)
	for i := 0; i < len(name); i++ {
		if name[i] == close {
			b.WriteByte(close)
		}
		b.WriteByte(name[i])
	}
	b.WriteByte(close)
	return b.String()
}

// quoteDouble quotes for PostgreSQL and SQLite: "name".
func quoteDouble(name string) string { return quoteWith(name, '"', '"') }

// quoteBacktick quotes for MySQL and MariaDB: `name`.
func quoteBacktick(name string) string { return quoteWith(name, '`', '`') }

// quoteBracket quotes for SQL Server: [name].
func quoteBracket(name string) string { return quoteWith(name, '[', ']') }
