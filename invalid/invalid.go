// Package invalid holds the error for input that broke a rule: one entry
// per bad field, each naming the field and what is wrong with it, so that a
// form or an RFC 9457 problem can show them all at once.
//
// A package that validates input declares its own sentinel and lists the
// bad fields under it:
//
//	var ErrInvalid = errors.New("relay: invalid input")
//
//	bad := invalid.Fields{Kind: ErrInvalid}
//	if in.Name == "" {
//		bad.Add("name", "is required")
//	}
//	return bad.Err() // "relay: invalid input: name: is required"
package invalid

import (
	"fmt"
	"strings"
)

// Field says what is wrong with one input field. Name is the field as a
// JSON body or a query would name it ("username", "records[2].value").
// The JSON tags are the wire shape of a problem's errors.
type Field struct {
	Name    string `json:"field"`
	Message string `json:"message"`
}

// Fields lists every field of an input that broke a rule. It matches Kind
// under errors.Is, and its text is Kind's text followed by the fields.
type Fields struct {
	// Kind is the sentinel of the package that raised the error, such as
	// "relay: invalid input".
	Kind error
	List []Field
}

// New returns an error for one bad field.
func New(kind error, name, format string, args ...any) error {
	e := &Fields{Kind: kind}
	e.Add(name, format, args...)
	return e
}

func (e *Fields) Error() string {
	var b strings.Builder
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("invalid input")
	}
	b.WriteString(": ")
	for i, f := range e.List {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Unwrap returns Kind.
func (e *Fields) Unwrap() error { return e.Kind }

// Add records that the field name broke a rule; the message is formatted
// as by fmt.Sprintf.
func (e *Fields) Add(name, format string, args ...any) {
	e.List = append(e.List, Field{Name: name, Message: fmt.Sprintf(format, args...)})
}

// Err returns e when it lists a field, nil otherwise.
func (e *Fields) Err() error {
	if len(e.List) == 0 {
		return nil
	}
	return e
}
