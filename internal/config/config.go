// Package config reads settings from command-line flags, ARUS_* environment
// variables and an optional config file, in that order of precedence, into
// flags defined on a standard flag.FlagSet.
//
// Each flag "some-name" has the environment twin ARUS_SOME_NAME and the file
// key some-name. A flag registered with Secret also accepts
// --some-name-file, ARUS_SOME_NAME_FILE and some-name-file: the value is read
// from that file (trailing newline removed), so secrets need not sit in the
// environment or the process list. Every value goes through the flag's own
// parser, so an error names the setting and where it came from.
//
// The config file has one "name = value" per line; blank lines and lines
// starting with '#' are ignored. Values may be quoted with double quotes.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Loader resolves a FlagSet's values from its sources.
type Loader struct {
	fs      *flag.FlagSet
	secrets map[string]bool
	getenv  func(string) string
	// ConfigFlag names the flag holding the config file path. Default
	// "config".
	ConfigFlag string
}

// NewLoader returns a loader for fs. Register the flags on fs first.
func NewLoader(fs *flag.FlagSet, getenv func(string) string) *Loader {
	return &Loader{fs: fs, secrets: map[string]bool{}, getenv: getenv, ConfigFlag: "config"}
}

// Secret marks flag name as a secret: it also accepts a *_FILE variant, and
// Source reports it as set without showing its value. It registers the
// --name-file flag on the FlagSet.
func (l *Loader) Secret(name string) {
	l.secrets[name] = true
	l.fs.String(name+"-file", "", "`file` holding the value of --"+name+" (kept out of the environment and the process list)")
}

// EnvName returns the environment variable of a flag.
func EnvName(flagName string) string {
	return "ARUS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load parses args, then fills every flag not given on the command line from
// the environment, then from the config file. It returns the first error,
// naming the setting and its source.
func (l *Loader) Load(args []string) error {
	if err := l.fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	l.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	fileValues := map[string]string{}
	cfgPath := ""
	if f := l.fs.Lookup(l.ConfigFlag); f != nil {
		cfgPath = f.Value.String()
		if !set[l.ConfigFlag] {
			if v := l.getenv(EnvName(l.ConfigFlag)); v != "" {
				cfgPath = v
			}
		}
	}
	if cfgPath != "" {
		vals, err := readFile(cfgPath)
		if err != nil {
			return err
		}
		for name := range vals {
			if l.fs.Lookup(name) == nil {
				return fmt.Errorf("config file %s: unknown setting %q (see --help for the settings)", cfgPath, name)
			}
		}
		fileValues = vals
	}

	var errs []error
	l.fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == l.ConfigFlag || strings.HasSuffix(f.Name, "-file") && l.secrets[strings.TrimSuffix(f.Name, "-file")] {
			return
		}
		value, source, ok, err := l.lookup(f.Name, set, fileValues, cfgPath)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if !ok {
			return
		}
		if err := l.fs.Set(f.Name, value); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid value for %s: %v", source, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// lookup finds a value for a flag not given on the command line.
func (l *Loader) lookup(name string, set map[string]bool, file map[string]string, cfgPath string) (value, source string, ok bool, err error) {
	if l.secrets[name] {
		// An explicit --name-file on the command line wins over the
		// environment and the file.
		if set[name+"-file"] {
			return l.readSecret(l.fs.Lookup(name+"-file").Value.String(), "--"+name+"-file")
		}
	}
	if v := l.getenv(EnvName(name)); v != "" {
		return v, "environment " + EnvName(name), true, nil
	}
	if l.secrets[name] {
		if p := l.getenv(EnvName(name) + "_FILE"); p != "" {
			return l.readSecret(p, "environment "+EnvName(name)+"_FILE")
		}
	}
	if v, found := file[name]; found {
		return v, "config file " + cfgPath, true, nil
	}
	if l.secrets[name] {
		if p, found := file[name+"-file"]; found {
			return l.readSecret(p, "config file "+cfgPath+" ("+name+"-file)")
		}
	}
	return "", "", false, nil
}

func (l *Loader) readSecret(path, source string) (string, string, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", source, false, fmt.Errorf("%s: cannot read the secret file: %v", source, err)
	}
	return strings.TrimRight(string(data), "\r\n"), source + " (" + path + ")", true, nil
}

func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return parse(path, bytes.NewReader(data))
}

func parse(path string, r io.Reader) (map[string]string, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config file %s line %d: want name = value, got %q", path, n, line)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("config file %s line %d: bad quoted value for %s: %v", path, n, name, err)
			}
			value = uq
		}
		if _, dup := vals[name]; dup {
			return nil, fmt.Errorf("config file %s line %d: %s set twice", path, n, name)
		}
		vals[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return vals, nil
}

// Usage writes a FlagSet's settings, each with its environment variable,
// default and description, for --help.
func Usage(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n      %s\n      env %s", line, usage, EnvName(f.Name))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			fmt.Fprintf(w, "; default %s", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
