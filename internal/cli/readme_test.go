package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The README's sh blocks run as written, top to bottom, in one shell, in
// a fresh directory holding the arus binary, while ./arus serve runs there
// on a fresh data directory. The only changes: the server listens on a free
// port, ARUS_SERVER names it, and http://localhost:8080 in the commands
// becomes its address.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the README against it; skipped with -short")
	}
	script := readmeScript(t, "../../README.md")
	dir := t.TempDir()
	bin := buildArus(t)
	if err := os.Rename(bin, filepath.Join(dir, "arus")); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8"}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, "./arus", "serve", "--listen", "127.0.0.1:0")
	srv.Dir, srv.Env = dir, env
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("start ./arus serve: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(os.Interrupt)
		_ = srv.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("./arus serve did not log its address within 30s")
	}

	sh := exec.CommandContext(ctx, "sh", "-ex")
	sh.Dir, sh.Env = dir, append(env, "ARUS_SERVER="+url)
	sh.Stdin = strings.NewReader(strings.ReplaceAll(script, "http://localhost:8080", url))
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s", err, out)
	}
	// Spot checks that the commands did what the README says.
	for _, want := range []string{`"key":"order-1"`, `{"ids":[`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the README's commands printed no %s:\n%s", want, out)
		}
	}
}

// readmeScript returns the README's sh blocks, in order, as one script.
func readmeScript(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case !in && line == "```sh":
			in = true
		case in && line == "```":
			in = false
		case in:
			script.WriteString(line + "\n")
		}
	}
	if script.Len() == 0 {
		t.Fatal("the README has no sh blocks")
	}
	return script.String()
}
