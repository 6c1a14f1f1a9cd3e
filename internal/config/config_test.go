package config

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type settings struct {
	listen   string
	workers  int
	timeout  time.Duration
	password string
}

func newSet() (*flag.FlagSet, *settings, *Loader, map[string]string) {
	s := &settings{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("config", "", "config file")
	fs.StringVar(&s.listen, "listen", ":8080", "address to listen on")
	fs.IntVar(&s.workers, "workers", 4, "worker count")
	fs.DurationVar(&s.timeout, "timeout", time.Second, "request timeout")
	fs.StringVar(&s.password, "admin-password", "", "the first admin's password")
	env := map[string]string{}
	l := NewLoader(fs, func(k string) string { return env[k] })
	l.Secret("admin-password")
	return fs, s, l, env
}

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	_, s, l, env := newSet()
	cfg := write(t, "arus.conf", "# comment\nlisten = \":7000\"\nworkers = 9\ntimeout = 5s\n")
	env["ARUS_CONFIG"] = cfg
	env["ARUS_WORKERS"] = "12"
	if err := l.Load([]string{"--timeout", "3s"}); err != nil {
		t.Fatal(err)
	}
	if s.listen != ":7000" || s.workers != 12 || s.timeout != 3*time.Second {
		t.Errorf("got listen %q workers %d timeout %s; want :7000 (file), 12 (env), 3s (flag)", s.listen, s.workers, s.timeout)
	}
}

func TestSecretFiles(t *testing.T) {
	pw := write(t, "pw", "s3cret\n")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string
	}{
		{"flag file", []string{"--admin-password-file", pw}, nil, ""},
		{"env file", nil, map[string]string{"ARUS_ADMIN_PASSWORD_FILE": pw}, ""},
		{"config file", nil, nil, "admin-password-file = " + pw + "\n"},
		{"env value", nil, map[string]string{"ARUS_ADMIN_PASSWORD": "s3cret"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, s, l, env := newSet()
			for k, v := range c.env {
				env[k] = v
			}
			args := c.args
			if c.file != "" {
				args = append(args, "--config", write(t, "c.conf", c.file))
			}
			if err := l.Load(args); err != nil {
				t.Fatal(err)
			}
			if s.password != "s3cret" {
				t.Errorf("password = %q, want s3cret", s.password)
			}
		})
	}
}

func TestErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"bad env", nil, map[string]string{"ARUS_WORKERS": "many"}, "", "environment ARUS_WORKERS: invalid value for workers"},
		{"bad file value", nil, nil, "timeout = soon\n", "invalid value for timeout"},
		{"unknown file key", nil, nil, "listn = :1\n", `unknown setting "listn"`},
		{"malformed line", nil, nil, "listen :1\n", "line 1: want name = value"},
		{"duplicate", nil, nil, "listen = :1\nlisten = :2\n", "line 2: listen set twice"},
		{"missing secret file", nil, map[string]string{"ARUS_ADMIN_PASSWORD_FILE": "/nonexistent/pw"}, "", "ARUS_ADMIN_PASSWORD_FILE: cannot read the secret file"},
		{"missing config", []string{"--config", "/nonexistent/arus.conf"}, nil, "", "config file: open /nonexistent/arus.conf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, l, env := newSet()
			for k, v := range c.env {
				env[k] = v
			}
			args := c.args
			if c.file != "" {
				args = append(args, "--config", write(t, "c.conf", c.file))
			}
			err := l.Load(args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load = %v, want error containing %q", err, c.want)
			}
		})
	}
}

func TestUsageListsEnvironment(t *testing.T) {
	fs, _, _, _ := newSet()
	var b bytes.Buffer
	Usage(&b, fs)
	for _, want := range []string{"--listen string", "env ARUS_LISTEN; default :8080", "--admin-password-file", "env ARUS_ADMIN_PASSWORD_FILE"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
}
