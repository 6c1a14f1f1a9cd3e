package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/internal/testenv"
)

// Two arus serve processes on a Redis broker and PostgreSQL stores behind
// nginx with deploy/nginx/arus.conf: one is killed while applications post
// records through nginx; every record nginx acknowledged reaches the relay
// destination, delivered by the node left, which has taken the killed
// node's partitions, and /readyz through nginx stays 200.
func TestTwoNodesBehindNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs nginx and two nodes; skipped with -short")
	}
	nginx := lookNginx(t)
	pg := testenv.Postgres(t)
	redisAddr := testenv.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// A schema and a Redis key prefix of the test's own.
	unique := fmt.Sprintf("arus_lb_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	pgdb, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer pgdb.Close()
	t.Cleanup(func() { _, _ = pgdb.Exec(`DROP SCHEMA IF EXISTS ` + unique + ` CASCADE`) })
	rc := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	defer rc.Close()
	t.Cleanup(func() {
		keys, _ := rc.Keys(context.Background(), unique+"*").Result()
		if len(keys) > 0 {
			rc.Del(context.Background(), keys...)
		}
	})
	sep := "?"
	if strings.Contains(pg, "?") {
		sep = "&"
	}
	dsn := pg + sep + "schema=" + unique
	broker := fmt.Sprintf("redis://%s/0?prefix=%s&lease_ttl=2s", redisAddr, unique)

	bin := buildArus(t)
	etc := t.TempDir()
	keyFile := filepath.Join(etc, "secret.key")
	secret := make([]byte, 32)
	rand.Read(secret)
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(etc, "destinations") // both nodes write the same SQLite destination
	if err := os.MkdirAll(shared, 0o750); err != nil {
		t.Fatal(err)
	}
	args := []string{"keys", "create", "--db", dsn, "--data", t.TempDir(), "--name", "lb"}
	for _, s := range []string{"relay.read", "relay.write", "groups.read", "topics.read"} {
		args = append(args, "--scope", s)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("arus keys create: %v", err)
	}
	admin := strings.TrimSpace(string(out))
	node := func() *arusProcess {
		return startArus(t, bin, t.TempDir(), "--broker", broker, "--db", dsn, "--secret-key-file", keyFile,
			"--components", "backbone,relay", "--relay-sqlite-dir", shared, "--admin-password", "correct horse battery staple")
	}
	a := node()
	b := node()

	// nginx on loopback with the shipped configuration, the upstreams and the
	// listener pointed at this test's processes.
	conf, err := os.ReadFile("../../deploy/nginx/arus.conf")
	if err != nil {
		t.Fatal(err)
	}
	listen := freePort(t)
	site := string(conf)
	for old, new := range map[string]string{
		"server 10.0.0.11:8080": "server " + strings.TrimPrefix(a.url, "http://"),
		"server 10.0.0.12:8080": "server " + strings.TrimPrefix(b.url, "http://"),
		"listen 80;":            "listen " + listen + ";",
	} {
		if !strings.Contains(site, old) {
			t.Fatalf("deploy/nginx/arus.conf has no %q", old)
		}
		site = strings.Replace(site, old, new, 1)
	}
	prefix := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers must reach the test's private temporary directory
	}
	if err := os.WriteFile(filepath.Join(prefix, "arus.conf"), []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/arus.conf;
}
`, user, prefix)
	if err := os.WriteFile(filepath.Join(prefix, "nginx.conf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	nginxArgs := []string{"-p", prefix, "-c", filepath.Join(prefix, "nginx.conf"), "-e", filepath.Join(prefix, "error.log")}
	if out, err := exec.Command(nginx, append(nginxArgs, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	ng := exec.Command(nginx, append(nginxArgs, "-g", "daemon off;")...)
	var ngOut bytes.Buffer
	ng.Stdout, ng.Stderr = &ngOut, &ngOut
	if err := ng.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() {
		_ = ng.Process.Signal(os.Interrupt)
		_ = ng.Wait()
	})
	lb := "http://" + listen
	call := func(method, path, key, body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, method, lb+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, func() bool { code, _ := call("GET", "/readyz", "", ""); return code == 200 })

	// A dataset delivered by a route into a SQLite table both nodes reach.
	dest, err := sql.Open("sqlite", filepath.Join(shared, "lb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	if _, err := dest.Exec(`PRAGMA journal_mode=WAL; CREATE TABLE seen (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	create := func(path, body string) map[string]any {
		t.Helper()
		code, reply := call("POST", path, admin, body)
		if code != 201 {
			t.Fatalf("POST %s: %d %s\nnode a:\n%s", path, code, reply, a.log())
		}
		var v map[string]any
		_ = json.Unmarshal([]byte(reply), &v)
		return v
	}
	create("/api/v1/relay/datasets", `{"name":"lb","key_fields":["id"]}`)
	app := create("/api/v1/relay/applications", `{"name":"lb-app","datasets":["lb"]}`)["api_key"].(string)
	d := create("/api/v1/relay/destinations", `{"name":"shared","kind":"sqlite","database":"lb.db"}`)
	route := create("/api/v1/relay/routes", fmt.Sprintf(`{"name":"lb-seen","dataset":"lb","destination":%q,"table":"seen","mode":"upsert",
		"key_columns":["id"],"mapping":[{"column":"id","field":"id"}]}`, d["id"]))
	group := "relay.route." + route["id"].(string)
	var lastGroup string
	members := func() (int, int) { // live members, partitions of relay.lb they own
		code, reply := call("GET", "/api/v1/groups/"+group, admin, "")
		lastGroup = reply
		if code != 200 {
			return -1, -1
		}
		var g struct {
			Members []struct {
				Partitions []struct {
					Topic string `json:"topic"`
				} `json:"partitions"`
			} `json:"members"`
		}
		_ = json.Unmarshal([]byte(reply), &g)
		owned := 0
		for _, m := range g.Members {
			for _, p := range m.Partitions {
				if p.Topic == "relay.lb" {
					owned++
				}
			}
		}
		return len(g.Members), owned
	}
	waitLong(t, "both nodes in the route's group", time.Minute, func() bool { n, _ := members(); return n == 2 })

	// Applications post through nginx; one node dies in the middle.
	var (
		mu    sync.Mutex
		acked []string
		fails int
	)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for p := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				var ids, items []string
				for j := range 10 {
					id := fmt.Sprintf("p%d-%d-%d", p, i, j)
					ids = append(ids, id)
					items = append(items, fmt.Sprintf(`{"id":%q}`, id))
				}
				code, _ := call("POST", "/api/v1/datasets/lb/records", app, "["+strings.Join(items, ",")+"]")
				mu.Lock()
				if code == 202 {
					acked = append(acked, ids...)
				} else {
					fails++
				}
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitLong(t, "records before the kill", time.Minute, func() bool { return count() >= 1000 })
	a.kill(t)
	atKill := count()
	waitLong(t, "records after the kill", time.Minute, func() bool { return count() >= atKill+1000 })
	stopLoad()
	wg.Wait()

	code, reply := call("GET", "/api/v1/topics/relay.lb", admin, "")
	var topic struct {
		Partitions int `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(reply), &topic); code != 200 || err != nil || topic.Partitions == 0 {
		t.Fatalf("GET /api/v1/topics/relay.lb: %d %s", code, reply)
	}
	if !poll(time.Minute, func() bool { n, owned := members(); return n == 1 && owned == topic.Partitions }) {
		t.Fatalf("the node left does not own all %d partitions of relay.lb: %s", topic.Partitions, lastGroup)
	}
	missing := func() []string {
		rows, err := dest.Query(`SELECT id FROM seen`)
		if err != nil {
			return []string{err.Error()}
		}
		defer rows.Close()
		have := map[string]bool{}
		for rows.Next() {
			var id string
			_ = rows.Scan(&id)
			have[id] = true
		}
		var out []string
		for _, id := range acked {
			if !have[id] {
				out = append(out, id)
			}
		}
		return out
	}
	var left []string
	waitLong(t, "every acknowledged record in the destination", 2*time.Minute, func() bool { left = missing(); return len(left) == 0 })
	for range 20 {
		if code, body := call("GET", "/readyz", "", ""); code != 200 {
			t.Fatalf("/readyz through nginx with one node down: %d %s", code, body)
		}
	}
	t.Logf("%d records acknowledged through nginx (%d at the kill), %d requests refused or cut, all delivered", len(acked), atKill, fails)
}

func lookNginx(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testenv.Unavailable(t, "nginx is not installed (Debian's nginx)")
	return ""
}

// waitLong polls cond until it holds and fails the test after timeout.
func waitLong(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("%s: not within %s", what, timeout)
	}
}

// poll reports whether cond held within timeout.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// deploy/systemd/arus@.service passes systemd-analyze verify as an instance,
// with ExecStart pointed at an executable that exists here.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Unavailable(t, "systemd-analyze is not installed")
	}
	unit, err := os.ReadFile("../../deploy/systemd/arus@.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart=/usr/local/bin/arus serve")) {
		t.Fatalf("the unit has no ExecStart=/usr/local/bin/arus serve")
	}
	unit = bytes.ReplaceAll(unit, []byte("/usr/local/bin/arus"), []byte(self))
	path := filepath.Join(t.TempDir(), "arus@node1.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "arus@") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
