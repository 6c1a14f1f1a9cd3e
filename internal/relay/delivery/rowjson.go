package delivery

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// rowJSON is json.Marshal(row) for the delivery log, byte for byte, with
// the common values (plain strings, numbers, booleans, null) written
// directly rather than through reflection; anything else is left to
// json.Marshal.
func rowJSON(row map[string]any) json.RawMessage {
	keys := make([]string, 0, len(row))
	size := 2
	for k, v := range row {
		keys = append(keys, k)
		size += len(k) + 4
		if s, ok := v.(string); ok {
			size += len(s) + 2
		} else {
			size += 8
		}
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if !plain(k) {
			return marshalRow(row)
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		switch v := row[k].(type) {
		case nil:
			b = append(b, "null"...)
		case bool:
			b = strconv.AppendBool(b, v)
		case string:
			if !plain(v) {
				return marshalRow(row)
			}
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		case json.Number:
			// Numbers in rows come from decoding, which checked them;
			// json.Marshal writes an empty one as 0.
			if v == "" {
				return marshalRow(row)
			}
			b = append(b, v...)
		default:
			return marshalRow(row)
		}
	}
	return append(b, '}')
}

func marshalRow(row map[string]any) json.RawMessage {
	b, _ := json.Marshal(row)
	return b
}

// plain reports whether json.Marshal writes s between quotes unchanged:
// valid UTF-8 without control characters, the quote, the backslash, the
// characters it escapes for HTML and U+2028 and U+2029.
func plain(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	return ascii || utf8.ValidString(s) && !strings.ContainsAny(s, "\u2028\u2029")
}
