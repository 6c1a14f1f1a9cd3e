package consume_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

func TestRecover(t *testing.T) {
	for _, tc := range []struct {
		name    string
		panicV  any
		wantIs  error
		wantMsg string
	}{
		{"string", "boom", nil, "handler panicked: boom"},
		{"error", io.ErrUnexpectedEOF, io.ErrUnexpectedEOF, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := consume.Recover()(func(context.Context, *stream.Record) error { panic(tc.panicV) })(context.Background(), &stream.Record{})
			var pe *consume.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *PanicError", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) || len(pe.Stack) == 0 {
				t.Errorf("got %q with %d bytes of stack, want %q and a stack", err, len(pe.Stack), tc.wantMsg)
			}
			if !consume.IsPermanent(err) {
				t.Errorf("a panic is not permanent")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) is false", err, tc.wantIs)
			}
		})
	}
	if err := consume.Recover()(func(context.Context, *stream.Record) error { return nil })(context.Background(), &stream.Record{}); err != nil {
		t.Errorf("no panic: got %v", err)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad input")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"plain", base, false},
		{"marked", consume.Permanent(base), true},
		{"wrapped mark", &consume.RetryError{Err: consume.Permanent(base)}, true},
		{"nil", consume.Permanent(nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := consume.IsPermanent(tc.err); got != tc.want {
				t.Errorf("IsPermanent(%v): got %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if !errors.Is(consume.Permanent(base), base) {
		t.Error("Permanent hides the error from errors.Is")
	}
}
