package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// kind is the family of a column type, which decides how a value is
// converted for it.
type kind int

const (
	kindOther kind = iota
	kindBool
	kindInt
	kindDecimal
	kindFloat
	kindText
	kindJSON
	kindTime
	kindDate
	kindBytes
)

// colType is a column type parsed once, when a route is prepared.
type colType struct {
	name     string // as the catalogue reports it
	kind     kind
	min, max int64 // kindInt bounds (max 0 with unsigned bigint means uint64)
	unsigned bool
	length   int // kindText: declared maximum length in characters; 0 unknown
	// precision and scale of numeric(p,s); 0 when unknown.
	precision, scale int
	// boolAsInt: a boolean written as 0/1 (MySQL tinyint(1), SQL Server bit,
	// SQLite).
	boolAsInt bool
}

// typeModifiers drops the modifiers of an integer type's name. Built once:
// a Replacer made for every value converted took a tenth of ingest's CPU.
var typeModifiers = strings.NewReplacer("unsigned", "", "zerofill", "", "signed", "")

// parseType reads a lowercased catalogue type name. dialect tweaks what
// cannot be told from the name alone.
func parseType(dialectName, t string) colType {
	ct := colType{name: t}
	base, args := t, ""
	if i := strings.IndexByte(t, '('); i >= 0 {
		base = strings.TrimSpace(t[:i])
		if j := strings.IndexByte(t[i:], ')'); j >= 0 {
			args = t[i+1 : i+j]
			base = strings.TrimSpace(base + " " + strings.TrimSpace(t[i+j+1:]))
		}
	}
	ct.unsigned = strings.Contains(base, "unsigned")
	base = strings.TrimSpace(typeModifiers.Replace(base))
	first := base
	if i := strings.IndexByte(first, ' '); i >= 0 {
		first = first[:i]
	}
	n1, n2 := 0, 0
	if args != "" {
		a, b, _ := strings.Cut(args, ",")
		n1, _ = strconv.Atoi(strings.TrimSpace(a))
		n2, _ = strconv.Atoi(strings.TrimSpace(b))
	}
	setInt := func(bits uint) {
		ct.kind = kindInt
		if ct.unsigned {
			ct.min = 0
			if bits == 64 {
				ct.max = math.MaxInt64 // values above are rejected; int64 carries them
			} else {
				ct.max = int64(1)<<bits - 1
			}
			return
		}
		ct.min = -(int64(1) << (bits - 1))
		ct.max = int64(1)<<(bits-1) - 1
		if bits == 64 {
			ct.min, ct.max = math.MinInt64, math.MaxInt64
		}
	}
	switch first {
	case "boolean", "bool":
		ct.kind = kindBool
		if dialectName == "sqlite" {
			ct.boolAsInt = true
		}
	case "bit":
		if dialectName == "sqlserver" || n1 <= 1 {
			ct.kind, ct.boolAsInt = kindBool, true
		}
	case "tinyint":
		if dialectName == "mysql" && n1 == 1 {
			ct.kind, ct.boolAsInt = kindBool, true
			ct.min, ct.max = -128, 127
			break
		}
		if dialectName == "sqlserver" {
			ct.unsigned = true
		}
		setInt(8)
	case "smallint", "int2", "smallserial":
		setInt(16)
	case "mediumint":
		setInt(24)
	case "integer", "int", "int4", "serial":
		if dialectName == "sqlite" {
			setInt(64) // SQLite integers are 64-bit whatever the declaration
		} else {
			setInt(32)
		}
	case "bigint", "int8", "bigserial":
		setInt(64)
	case "numeric", "decimal", "money", "smallmoney":
		ct.kind, ct.precision, ct.scale = kindDecimal, n1, n2
	case "real", "float", "float4", "float8", "double":
		ct.kind = kindFloat
	case "character", "char", "varchar", "nvarchar", "nchar", "text", "tinytext", "mediumtext", "longtext", "ntext", "clob", "citext", "uuid", "uniqueidentifier", "enum", "set", "xml", "inet", "cidr", "interval":
		ct.kind = kindText
		switch {
		case first == "uuid" || first == "uniqueidentifier" || first == "enum" || first == "set":
		case strings.HasPrefix(base, "character varying"), first == "varchar", first == "nvarchar", first == "char", first == "nchar", first == "character":
			ct.length = n1 // enforced on SQLite too, which would not
		}
	case "json", "jsonb":
		ct.kind = kindJSON
	case "timestamp", "datetime", "datetime2", "datetimeoffset", "smalldatetime":
		ct.kind = kindTime
	case "date":
		ct.kind = kindDate
	case "time":
		ct.kind = kindText
	case "bytea", "blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary", "image":
		ct.kind = kindBytes
	}
	return ct
}

// coerce converts v, one of the values a Change row may carry, to what the
// driver should send for a column of type ct. The error is the reason
// only; the caller wraps it in a *ValueError.
func (ct colType) coerce(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if n, ok := v.(json.Number); ok {
		v = numberValue(n)
	}
	switch ct.kind {
	case kindBool:
		return ct.coerceBool(v)
	case kindInt:
		return ct.coerceInt(v)
	case kindDecimal:
		return ct.coerceDecimal(v)
	case kindFloat:
		return coerceFloat(v)
	case kindText:
		return ct.coerceText(v)
	case kindJSON:
		return coerceJSON(v)
	case kindTime, kindDate:
		return ct.coerceTime(v)
	case kindBytes:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
		return nil, fmt.Errorf("%s is not bytes", describe(v))
	}
	// A type the sink does not know: send scalars as they are, structures
	// as JSON text, and let the database judge.
	switch x := v.(type) {
	case map[string]any, []any:
		return coerceJSON(x)
	}
	return v, nil
}

// numberValue turns a json.Number into int64 when it is an integer that
// fits, else keeps its text (so decimals keep their exact digits).
func numberValue(n json.Number) any {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i
	}
	return n
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			return strconv.Quote(x[:40]) + "..."
		}
		return strconv.Quote(x)
	case json.Number:
		return string(x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case []byte:
		return fmt.Sprintf("%d bytes", len(x))
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func (ct colType) coerceBool(v any) (any, error) {
	var b bool
	switch x := v.(type) {
	case bool:
		b = x
	case int64:
		if x != 0 && x != 1 {
			return nil, fmt.Errorf("%d is not a boolean (0 or 1)", x)
		}
		b = x == 1
	case float64:
		if x != 0 && x != 1 {
			return nil, fmt.Errorf("%v is not a boolean (0 or 1)", x)
		}
		b = x == 1
	case string:
		switch strings.ToLower(x) {
		case "true", "t", "1", "yes", "on":
			b = true
		case "false", "f", "0", "no", "off":
		default:
			return nil, fmt.Errorf("%s is not a boolean", describe(v))
		}
	default:
		return nil, fmt.Errorf("%s is not a boolean", describe(v))
	}
	if ct.boolAsInt {
		if b {
			return int64(1), nil
		}
		return int64(0), nil
	}
	return b, nil
}

func (ct colType) coerceInt(v any) (any, error) {
	var i int64
	switch x := v.(type) {
	case int64:
		i = x
	case int:
		i = int64(x)
	case int32:
		i = int64(x)
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%v is not an integer", x)
		}
		if x < -9.223372036854775e18 || x >= 9.223372036854775e18 {
			return nil, fmt.Errorf("%v is out of range for %s", x, ct.name)
		}
		i = int64(x)
	case json.Number:
		return ct.coerceInt(string(x))
	case string:
		s := strings.TrimSpace(x)
		p, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("%s is out of range for %s", describe(v), ct.name)
			}
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || f != math.Trunc(f) {
				return nil, fmt.Errorf("%s is not an integer", describe(v))
			}
			return ct.coerceInt(f)
		}
		i = p
	case bool:
		return nil, fmt.Errorf("%v is a boolean, not an integer", x)
	default:
		return nil, fmt.Errorf("%s is not an integer", describe(v))
	}
	if i < ct.min || i > ct.max {
		return nil, fmt.Errorf("%d is out of range for %s", i, ct.name)
	}
	return i, nil
}

func (ct colType) coerceDecimal(v any) (any, error) {
	var s string
	switch x := v.(type) {
	case int64:
		s = strconv.FormatInt(x, 10)
	case int:
		s = strconv.Itoa(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%v is not a number", x)
		}
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		s = string(x)
	case string:
		s = strings.TrimSpace(x)
	default:
		return nil, fmt.Errorf("%s is not a number", describe(v))
	}
	if intDigits, ok := plainDecimal(s); ok {
		if ct.precision > 0 && intDigits > ct.precision-ct.scale {
			return nil, fmt.Errorf("%s is out of range for %s", describe(v), ct.name)
		}
		return s, nil
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		// big.Rat would expand any exponent: bound it first.
		if e, err := strconv.Atoi(s[i+1:]); err != nil || e > 400 || e < -400 || len(s) > 1000 {
			return nil, fmt.Errorf("%s is out of range for %s", describe(v), ct.name)
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.ContainsAny(s, "/") || strings.EqualFold(s, "inf") || strings.Contains(strings.ToLower(s), "nan") {
		return nil, fmt.Errorf("%s is not a number", describe(v))
	}
	if ct.precision > 0 {
		// Digits before the point may not exceed precision-scale.
		ip := new(big.Int).Quo(r.Num(), r.Denom())
		ip.Abs(ip)
		if digits := len(ip.String()); ip.Sign() != 0 && digits > ct.precision-ct.scale {
			return nil, fmt.Errorf("%s is out of range for %s", describe(v), ct.name)
		}
	}
	return r.FloatString(decimalPlaces(s)), nil
}

// plainDecimal reports whether s is [+-]digits[.digits], and how many
// significant digits it has before the point.
func plainDecimal(s string) (intDigits int, ok bool) {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") {
		return 0, false
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, false
			}
		}
	}
	return len(strings.TrimLeft(whole, "0")), true
}

// decimalPlaces counts the digits after the point of a decimal string,
// expanding an exponent, so FloatString keeps the value exactly.
func decimalPlaces(s string) int {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		exp, _ = strconv.Atoi(s[i+1:])
	}
	places := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		places = len(mant) - i - 1
	}
	places -= exp
	if places < 0 {
		places = 0
	}
	if places > 1000 {
		places = 1000
	}
	return places
}

func coerceFloat(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a number", describe(v))
		}
		return f, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%s is not a number", describe(v))
		}
		return f, nil
	}
	return nil, fmt.Errorf("%s is not a number", describe(v))
}

func (ct colType) coerceText(v any) (any, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case bool:
		s = strconv.FormatBool(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case int:
		s = strconv.Itoa(x)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		s = string(x)
	case time.Time:
		s = x.Format(time.RFC3339Nano)
	case []byte:
		if !utf8.Valid(x) {
			return nil, fmt.Errorf("%s are not valid UTF-8 text", describe(v))
		}
		s = string(x)
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("%s cannot be encoded as JSON: %v", describe(v), err)
		}
		s = string(b)
	default:
		return nil, fmt.Errorf("%s is not text", describe(v))
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, fmt.Errorf("%s contains a NUL character", describe(s))
	}
	if ct.length > 0 {
		if n := utf8.RuneCountInString(s); n > ct.length {
			return nil, fmt.Errorf("%s is %d characters, longer than %d", describe(s), n, ct.length)
		}
	}
	return s, nil
}

func coerceJSON(v any) (any, error) {
	if n, ok := v.(json.Number); ok {
		if _, err := strconv.ParseFloat(string(n), 64); err != nil || !json.Valid([]byte(n)) {
			return nil, fmt.Errorf("%s is not a JSON number", describe(v))
		}
		return string(n), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be encoded as JSON: %v", describe(v), err)
	}
	return string(b), nil
}

// timeLayouts are the forms a time may arrive in as a string, most
// specific first.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"}

func (ct colType) coerceTime(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		s := strings.TrimSpace(x)
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("%s is not an RFC 3339 time", describe(v))
	}
	return nil, fmt.Errorf("%s is not an RFC 3339 time", describe(v))
}

// Convert converts v, a value of a row as a route's mapping produced it,
// to what col of a database of kind (a dialect name such as "postgres")
// takes, as Write would. The error is a *ValueError. Previews of a route
// use it to show the row a record would become, or why it would be
// rejected, before anything is written.
func Convert(kind string, col Column, v any) (any, error) {
	c, err := NewConverter(kind, col)
	if err != nil {
		return nil, err
	}
	return c.Convert(v)
}

// Converter is Convert for one column, its type read once: for checking
// many values against the same column.
type Converter struct {
	col string
	ct  colType
}

// NewConverter returns the Converter of col in a database of kind; the
// error names an unknown kind.
func NewConverter(kind string, col Column) (Converter, error) {
	d, err := lookupDialect(kind)
	if err != nil {
		return Converter{}, err
	}
	return Converter{col: col.Name, ct: parseType(d.name(), col.Type)}, nil
}

// Convert is Convert(kind, col, v) for the converter's kind and column.
func (c Converter) Convert(v any) (any, error) {
	cv, err := c.ct.coerce(v)
	if err != nil {
		return nil, &ValueError{Column: c.col, Type: c.ct.name, Value: v, Reason: err.Error()}
	}
	return cv, nil
}
