package cli

import (
	"context"
	"log/slog"

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
	if c.server != "" || (c.broker == "" && c.data == "") {
		server := c.server
		if server == "" {
			server = defaultServer
		}
		return client.New(server, c.apiKey)
	}
	data := c.data
	if data == "" {
		data = "./arus-data"
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return backbone.Open(ctx, c.broker, data, stream.Options{Logger: logger})
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

// addAPIKey registers the API key a command sends: --api-key-file or
// ARUS_API_KEY (or ARUS_API_KEY_FILE). --api-key itself works too, but a
// key on the command line shows in the process list and shell history.
func addAPIKey(f *flags, dst *string) {
	f.StringVar(dst, "api-key", "", "API `key` sent to the server as a bearer token; avoid it: a key on the command line shows in the process list, so use ARUS_API_KEY or --api-key-file")
	f.twin("api-key", "ARUS_API_KEY")
	f.secret("api-key")
}
