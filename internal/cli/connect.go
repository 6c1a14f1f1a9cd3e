package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/internal/client"
	"github.com/arus-platform/arus/stream"
)

// defaultServer is the server commands talk to when told nothing else.
const defaultServer = "http://127.0.0.1:8080"

// conn holds the flags that say where a command finds the stream: a
// running server (--server, --api-key) or the broker itself (--broker,
// --data).
type conn struct {
	server string
	apiKey string
	broker string
	data   string
}

func addConn(f *flags) *conn {
	c := &conn{}
	f.StringVar(&c.server, "server", "", "`URL` of a running arus server (default "+defaultServer+" unless --broker or --data is given)")
	f.twin("server", "ARUS_SERVER")
	addAPIKey(f, &c.apiKey)
	f.StringVar(&c.broker, "broker", "", "`URL` of a broker to open directly instead of a server: embedded, kafka://host:9092,... or redis://host:6379/0")
	f.twin("broker", "ARUS_BROKER")
	f.StringVar(&c.data, "data", "", "data `dir`ectory of the embedded broker, opened directly (no server may be running on it; default ./arus-data with --broker embedded)")
	f.twin("data", "ARUS_DATA")
	return c
}

// open returns the stream the flags point at: a client of the server when
// --server is set or neither --broker nor --data is, else the broker
// opened in-process.
func (c *conn) open(ctx context.Context, e *env) (stream.Broker, error) {
	if server, ok := c.remote(); ok {
		return client.New(server, c.apiKey)
	}
	b, _, err := c.local(ctx, e)
	return b, err
}

// remote returns the server the flags point at, if they point at one:
// --server, or the default server when neither --broker nor --data is set.
func (c *conn) remote() (string, bool) {
	if c.server != "" {
		return c.server, true
	}
	return defaultServer, c.broker == "" && c.data == ""
}

// local opens the broker named by --broker and --data in-process, with
// the logger it warns through.
func (c *conn) local(ctx context.Context, e *env) (stream.Broker, *slog.Logger, error) {
	data := c.data
	if data == "" {
		data = "./arus-data"
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := backbone.Open(ctx, c.broker, data, stream.Options{Logger: logger})
	return b, logger, err
}

// connArgs registers the connection flags and parses the command line,
// returning the connection and the positional arguments.
func connArgs(f *flags, args []string) (*conn, []string, error) {
	c := addConn(f)
	rest, err := f.parse(args)
	return c, rest, err
}

// openNoArgs parses the command line of a command that takes no argument
// and opens the stream the flags point at.
func openNoArgs(ctx context.Context, e *env, f *flags, args []string) (stream.Broker, error) {
	c, rest, err := connArgs(f, args)
	if err != nil {
		return nil, err
	}
	if err := noArgs(f, rest); err != nil {
		return nil, err
	}
	return c.open(ctx, e)
}

// newTable returns a writer of aligned columns on w, the header written.
func newTable(w io.Writer, header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw
}

// serverFlags say which running server a command that only talks to a
// server asks, and with which key.
type serverFlags struct {
	server, apiKey string
}

func addServer(f *flags) *serverFlags {
	s := &serverFlags{}
	f.StringVar(&s.server, "server", defaultServer, "`URL` of the running arus server")
	f.twin("server", "ARUS_SERVER")
	addAPIKey(f, &s.apiKey)
	return s
}

// serverArgs registers the server flags and parses the command line,
// returning the server flags and the positional arguments.
func serverArgs(f *flags, args []string) (*serverFlags, []string, error) {
	s := addServer(f)
	rest, err := f.parse(args)
	return s, rest, err
}

// addAPIKey registers the API key a command sends: --api-key-file or
// ARUS_API_KEY (or ARUS_API_KEY_FILE). --api-key itself works too, but a
// key on the command line shows in the process list and shell history.
func addAPIKey(f *flags, dst *string) {
	f.StringVar(dst, "api-key", "", "API `key` sent to the server as a bearer token; avoid it: a key on the command line shows in the process list, so use ARUS_API_KEY or --api-key-file")
	f.twin("api-key", "ARUS_API_KEY")
	f.secret("api-key")
}
