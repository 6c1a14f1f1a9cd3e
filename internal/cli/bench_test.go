package cli_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/storetest"
)

func TestBenchRelay(t *testing.T) {
	data := t.TempDir()
	admin := mustKey(t, data, "relay.read", "relay.write", "topics.read", "groups.read")
	url, _ := serve(t, map[string]string{"ARUS_DATA": data, "ARUS_COMPONENTS": "backbone,relay"})
	post := func(path, body string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	post("/api/v1/relay/datasets", `{"name":"cars","key_fields":["id"]}`)
	var app struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(post("/api/v1/relay/applications", `{"name":"bench","datasets":["cars"]}`)), &app); err != nil {
		t.Fatal(err)
	}
	// A SQLite destination in the server's SQLite directory, one route.
	var dest struct{ ID string }
	if err := json.Unmarshal([]byte(post("/api/v1/relay/destinations", `{"name":"local","kind":"sqlite","database":"bench.db","create":true}`)), &dest); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(data, "destinations", "bench.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE cars (id INTEGER PRIMARY KEY, car_name TEXT)`); err != nil {
		t.Fatal(err)
	}
	post("/api/v1/relay/routes", fmt.Sprintf(`{"name":"local-cars","dataset":"cars","destination":%q,"table":"cars","key_columns":["id"],
		"mapping":[{"column":"id","field":"id"},{"column":"car_name","field":"car_name"}]}`, dest.ID))

	env := map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": app.APIKey, "ARUS_READ_KEY": admin}
	r := must(t, env, "", "bench", "relay", "--dataset", "cars", "--mode", "batch", "--batch", "10", "--concurrency", "4", "--duration", "1s", "--wait-delivered")
	m := regexp.MustCompile(`records:\s+([\d,]+) accepted`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("bench output lacks the records line:\n%s", r.stdout)
	}
	accepted, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
	if accepted == 0 || !strings.Contains(r.stdout, "p99") {
		t.Errorf("bench accepted %d records; output:\n%s", accepted, r.stdout)
	}
	// The requests in flight when sending stopped were waited for and
	// counted: the topic holds exactly the accepted records.
	d := must(t, map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": admin}, "", "topics", "describe", "relay.cars")
	sm := regexp.MustCompile(`Records: (\d+)`).FindStringSubmatch(d.stdout)
	if stored, _ := strconv.Atoi(sm[1]); stored != accepted {
		t.Errorf("topic holds %d records for %d accepted", stored, accepted)
	}
	// --wait-delivered returned once the route had delivered everything.
	if !strings.Contains(r.stdout, "delivered: all 1 route(s) of cars caught up") {
		t.Errorf("no delivery line:\n%s", r.stdout)
	}
	var rows int
	if err := db.QueryRow(`SELECT COUNT(*) FROM cars`).Scan(&rows); err != nil || rows != accepted {
		t.Errorf("the table holds %d rows (%v) when bench said delivered, want %d", rows, err, accepted)
	}

	// Every request refused: it stops at once, with the server's answer,
	// and the statuses in words.
	refused := arus(t, map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": admin}, "", "bench", "relay", "--dataset", "cars", "--concurrency", "4", "--duration", "10m")
	if refused.err == nil || !strings.Contains(refused.err.Error(), "403 Forbidden") || !strings.Contains(refused.err.Error(), "relay.ingest") {
		t.Errorf("bench with a key that may not ingest: %v, want an error with the 403", refused.err)
	}
	fm := regexp.MustCompile(`requests: 0 accepted, (\d+) failed`).FindStringSubmatch(refused.stdout)
	if fm == nil {
		t.Fatalf("refused run output:\n%s", refused.stdout)
	}
	if n, _ := strconv.Atoi(fm[1]); n < 1 || n > 4 {
		t.Errorf("%d requests sent after the first refusal, want at most one per client (4)", n)
	}
	if !regexp.MustCompile(`statuses: 403 Forbidden: \d`).MatchString(refused.stdout) {
		t.Errorf("statuses not in words:\n%s", refused.stdout)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "sideways"}, `--mode "sideways"`},
		{[]string{"--wait-delivered"}, "--wait-delivered needs a read key"},
	} {
		r := arus(t, map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": app.APIKey}, "", append([]string{"bench", "relay", "--dataset", "cars"}, tc.args...)...)
		if r.err == nil || !strings.Contains(r.err.Error()+r.stderr, tc.want) {
			t.Errorf("bench %v: %v %s, want %q", tc.args, r.err, r.stderr, tc.want)
		}
	}
}

// A small flash sale through arus bench tickets: the command itself fails
// when anything is oversold, stuck or not validated; the test checks its
// figures add up, never its speed.
func TestBenchTickets(t *testing.T) {
	data := t.TempDir()
	key := mustKey(t, data, "ticketing.admin", "ticketing.manage", "ticketing.buy", "ticketing.sell", "ticketing.read",
		"payment.read", "payment.cash", "payment.simulate")
	url, _ := serve(t, map[string]string{"ARUS_DATA": data, "ARUS_COMPONENTS": "backbone,ticketing,gate,payment,notify"})
	env := map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": key}
	r := must(t, env, "", "bench", "tickets", "--attempts", "2000", "--tickets", "200", "--areas", "4", "--concurrency", "16", "--wait", "1m")
	t.Log(r.stdout)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`reservations: 200 in`),
		regexp.MustCompile(`refused: 409 sold-out: 1,800\n`),
		regexp.MustCompile(`paid 100 reservations, canceled 100`),
		regexp.MustCompile(`sold: 100 of 200 tickets`),
		regexp.MustCompile(`oversold: 0 .*; audit: ok`),
		regexp.MustCompile(`left after the run: 0 holds, 0 orders pending, 0 paid orders not validated, 0 with other than one ticket`),
		regexp.MustCompile(`(?m)^Area 4 +50 +50 +\d+ +450 +0 +0$`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("the report does not match %s:\n%s", want, r.stdout)
		}
	}
	if r := arus(t, env, "", "bench", "tickets", "--pay", "2"); r.err == nil || !strings.Contains(r.stderr+r.err.Error(), "--pay") {
		t.Errorf("--pay 2: %v %s, want an error naming --pay", r.err, r.stderr)
	}
}

// The flash sale of arus bench tickets against arus serve in this
// process, on SQLite and on PostgreSQL, so that a profile of the run
// (-cpuprofile, -blockprofile) shows the server's side:
//
//	go test -run '^$' -bench FlashSale/sqlite -benchtime 1x -cpuprofile cpu.out ./internal/cli
//
// ARUS_BENCH_TICKETS_ARGS adds flags to the command (default: 20,000
// attempts for 2,000 tickets); the run must end within the two minutes
// the test's command helper allows.
func BenchmarkFlashSale(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			data := b.TempDir()
			env := map[string]string{"ARUS_DATA": data, "ARUS_COMPONENTS": "backbone,ticketing,gate,payment,notify"}
			keyArgs := []string{"keys", "create", "--data", data, "--name", "bench"}
			if name == "postgres" {
				env["ARUS_DB"] = storetest.PostgresSchema(b)
				keyArgs = append(keyArgs, "--db", env["ARUS_DB"])
			}
			for _, s := range []string{"ticketing.admin", "ticketing.manage", "ticketing.buy", "ticketing.sell", "ticketing.read",
				"payment.read", "payment.cash", "payment.simulate"} {
				keyArgs = append(keyArgs, "--scope", s)
			}
			key := strings.TrimSpace(must(b, nil, "", keyArgs...).stdout)
			url, _ := serve(b, env)
			args := strings.Fields(os.Getenv("ARUS_BENCH_TICKETS_ARGS"))
			if len(args) == 0 {
				args = []string{"--attempts", "20000", "--tickets", "2000"}
			}
			for range b.N {
				r := must(b, map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": key}, "", append([]string{"bench", "tickets", "--wait", "10m"}, args...)...)
				b.Log("\n" + r.stdout)
			}
		})
	}
}
