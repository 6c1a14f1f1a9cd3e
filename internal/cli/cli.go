// Package cli is the arus command line. Each subcommand lives in its own
// file; flags, their ARUS_* environment twins and the standard streams are
// read here and passed down, so the commands run the same in-process (in
// tests) as from main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/arus-platform/arus/internal/config"
)

// UsageError is a command line the command cannot run: an unknown command,
// flag or value. main exits with status 2 for it.
type UsageError struct {
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCode returns the process exit status for an error Run returned: 0 for
// nil, 2 for a usage error, 1 otherwise.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// env holds what a command reads from its surroundings.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server: the stream backbone and its HTTP API", runServe},
		{"topics", "create, list, describe and delete topics", runTopics},
		{"produce", "produce lines from standard input or a file to a topic", runProduce},
		{"consume", "print the records of a topic, in a consumer group or by position", runConsume},
		{"groups", "list, describe, reset and delete consumer groups", runGroups},
		{"dlq", "list, show, replay and discard dead letters", runDLQ},
		{"schemas", "list, register, check and delete schemas; set compatibility modes", runSchemas},
		{"relay", "manage the relay's applications, datasets, destinations and routes; show its status and delivery log", runRelay},
		{"keys", "create, list and revoke API keys in the server's auth store", runKeys},
		{"events", "list, approve and cancel ticketing events", runEvents},
		{"orders", "list and show ticketing orders", runOrders},
		{"refunds", "list, approve and reject refunds", runRefunds},
		{"tickets", "audit an event's tickets against its inventory events", runTickets},
		{"gate", "operate the gate access control: counts, devices, enrolment codes, keys, rebuild", runGate},
		{"backup", "copy a server's data directory while it runs", runBackup},
		{"restore", "restore a backup into an empty data directory", runRestore},
		{"bench", "drive load at a running server and report throughput and latency", runBench},
		{"version", "print the version", runVersion},
	}
}

// Run runs the arus command line args (args[0] is the program name). A
// usage error (a [*UsageError]) is printed to stderr with the command's
// usage before it is returned; other errors are returned for the caller to
// print.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) < 2 {
		fmt.Fprintf(stderr, "arus: no command given\n\n")
		printUsage(stderr)
		return usageErrorf("no command given")
	}
	name := args[1]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 2 {
			return Run(ctx, []string{args[0], args[2], "--help"}, getenv, stdin, stdout, stderr)
		}
		printUsage(stdout)
		return nil
	}
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == name })
	if i < 0 {
		fmt.Fprintf(stderr, "arus: unknown command %q\n\n", name)
		printUsage(stderr)
		return usageErrorf("unknown command %q", name)
	}
	err := commands()[i].run(ctx, e, args[2:])
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "arus is an event-driven platform in one binary.\n\nUsage:\n  arus <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'arus <command> --help' for a command's flags.\n")
}

// errHelp ends a command after it printed its help.
var errHelp = errors.New("help printed")

// flags is a flag set with environment twins, helpful usage and flags that
// may come after positional arguments.
type flags struct {
	*flag.FlagSet
	e        *env
	synopsis string
	about    string
	envs     [][2]string // flag name, environment variable
	// allEnv gives every flag its ARUS_* twin and a --config file, through
	// internal/config; the twins above are then not used.
	allEnv bool
	// secrets are flags that also take a *_FILE variant.
	secrets []string
}

// secret marks flag name as a secret: it also accepts --name-file and
// ARUS_NAME_FILE (and, with allEnv, name-file in the config file), so that
// it need not sit in the process list. Without allEnv, call it after the
// flag and its twin are defined.
func (f *flags) secret(name string) {
	f.secrets = append(f.secrets, name)
	if !f.allEnv {
		usage := "`file` holding the value of --" + name + " (kept out of the environment and the process list)"
		for _, fe := range f.envs {
			if fe[0] == name {
				usage += "\n      env " + fe[1] + "_FILE"
			}
		}
		f.String(name+"-file", "", usage)
	}
}

// readSecretFiles fills each secret flag from its file when the flag was
// not given on the command line: --name-file first, then the twin's
// variable with _FILE appended. The file's trailing newline is dropped.
func (f *flags) readSecretFiles() error {
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, name := range f.secrets {
		env := f.twinOf(name)
		value := f.Lookup(name).Value.String()
		onCommandLine := f.given(name)
		path, source := "", ""
		switch {
		case set[name+"-file"] && onCommandLine:
			return f.fail("give --%s or --%s-file, not both", name, name)
		case set[name+"-file"]:
			path, source = f.Lookup(name+"-file").Value.String(), "--"+name+"-file"
		case value == "" && env != "" && f.e.getenv(env+"_FILE") != "":
			path, source = f.e.getenv(env+"_FILE"), env+"_FILE"
		default:
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return f.fail("%s: cannot read the file: %v", source, err)
		}
		if err := f.Set(name, strings.TrimRight(string(data), "\r\n")); err != nil {
			return f.fail("%s: %v", source, err)
		}
	}
	return nil
}

// twinOf returns the environment variable twinned with flag name, or "".
func (f *flags) twinOf(name string) string {
	env := ""
	for _, fe := range f.envs {
		if fe[0] == name {
			env = fe[1]
		}
	}
	return env
}

// given reports whether flag name was given on the command line, not only
// by its twin variable (a value equal to the variable's counts as the
// variable's).
func (f *flags) given(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	env := f.twinOf(name)
	return set && (env == "" || f.Lookup(name).Value.String() != f.e.getenv(env))
}

func newFlags(e *env, name, synopsis, about string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{FlagSet: fs, e: e, synopsis: synopsis, about: about}
}

// twin gives flag name the environment variable env, read when the flag is
// not on the command line.
func (f *flags) twin(name, env string) {
	f.envs = append(f.envs, [2]string{name, env})
}

func (f *flags) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage:\n  %s\n\n%s\n", f.synopsis, strings.TrimSpace(f.about))
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintf(w, "\nFlags:\n")
		if f.allEnv {
			config.Usage(w, f.FlagSet)
			return
		}
		f.VisitAll(func(fl *flag.Flag) {
			name, usage := flag.UnquoteUsage(fl)
			line := "  --" + fl.Name
			if name != "" {
				line += " " + name
			}
			fmt.Fprintf(w, "%s\n      %s", line, usage)
			sep := "\n      "
			for _, fe := range f.envs {
				if fe[0] == fl.Name {
					fmt.Fprintf(w, "%senv %s", sep, fe[1])
					sep = "; "
				}
			}
			if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
				fmt.Fprintf(w, "%sdefault %s", sep, fl.DefValue)
			}
			fmt.Fprintln(w)
		})
	}
}

// parse reads environment twins, then the command line. Flags may follow
// positional arguments; "--" ends the flags. It returns the positional
// arguments. With -h or --help it prints the usage to stdout and returns
// errHelp.
func (f *flags) parse(args []string) ([]string, error) {
	if f.allEnv {
		l := config.NewLoader(f.FlagSet, f.e.getenv)
		for _, name := range f.secrets {
			l.Secret(name)
		}
		if err := l.Load(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.usage(f.e.stdout)
				return nil, errHelp
			}
			return nil, f.fail("%v", err)
		}
		return f.Args(), nil
	}
	for _, fe := range f.envs {
		if v := f.e.getenv(fe[1]); v != "" {
			if err := f.Set(fe[0], v); err != nil {
				return nil, f.fail("%s=%q: %v", fe[1], v, err)
			}
		}
	}
	var positional []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.usage(f.e.stdout)
				return nil, errHelp
			}
			return nil, f.fail("%v", err)
		}
		rest := f.Args()
		if len(rest) == 0 {
			return positional, f.readSecretFiles()
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), f.readSecretFiles()
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// fail prints the command's usage and returns a usage error.
func (f *flags) fail(format string, args ...any) error {
	err := fmt.Errorf("%s: %s", f.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(f.e.stderr, "arus %s\n\n", err)
	f.usage(f.e.stderr)
	return &UsageError{Err: err}
}

// listFlag is a repeatable flag; each value may also hold several items
// separated by commas when split is set.
type listFlag struct {
	values []string
	split  bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	if !l.split {
		l.values = append(l.values, v)
		return nil
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l.values = append(l.values, s)
		}
	}
	return nil
}

// action is one subcommand of a command with several (topics create, ...).
type action struct {
	name string
	run  func(ctx context.Context, e *env, args []string) error
}

// dispatch runs the action args[0] names, or prints the command's usage
// with a precise complaint when it names none.
func dispatch(ctx context.Context, e *env, args []string, name, about string, actions ...action) error {
	var names []string
	for _, a := range actions {
		if len(args) > 0 && args[0] == a.name {
			return a.run(ctx, e, args[1:])
		}
		names = append(names, a.name)
	}
	f := newFlags(e, name, "arus "+name+" "+strings.Join(names, "|")+" [flags]", about)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		f.usage(e.stdout)
		return errHelp
	}
	choices := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	if len(args) == 0 {
		return f.fail("no action given; use %s", choices)
	}
	return f.fail("unknown action %q; use %s", args[0], choices)
}
