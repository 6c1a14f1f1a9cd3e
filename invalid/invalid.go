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
//
// It also holds the error for a request the current state refuses, with a
// stable code a client can show in its own language (Refusal).
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

// Refusal is an action the current state does not allow (an order no
// longer pending, an event not on sale). Code names the rule in a stable
// form, snake_case, that a client branches on or shows in its own
// language, with Args, the values Message names, in order; Message says it
// in English. It matches Kind under errors.Is, and its text is Kind's text
// followed by Message.
type Refusal struct {
	// Kind is the sentinel of the package that refused, such as
	// "ticketing: conflict".
	Kind    error
	Code    string
	Args    []any
	Message string
}

// Refuse returns a refusal of kind with code; its message is format
// filled with args, as by fmt.Sprintf, and args are kept as they are.
func Refuse(kind error, code, format string, args ...any) error {
	return &Refusal{Kind: kind, Code: code, Args: args, Message: fmt.Sprintf(format, args...)}
}

func (e *Refusal) Error() string {
	if e.Kind == nil {
		return e.Message
	}
	return e.Kind.Error() + ": " + e.Message
}

// Unwrap returns Kind.
func (e *Refusal) Unwrap() error { return e.Kind }
