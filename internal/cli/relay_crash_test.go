package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/arus-platform/arus/internal/client"
	"github.com/arus-platform/arus/internal/testenv"
)

// kill -9 the relay while records flow into an upsert table and an
// insert-only table of PostgreSQL, restart it on the same data, and find
// every record of the dataset's topic in the tables exactly once.
func TestRelayCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped under -short")
	}
	relayKillRun(t, false)
}

// Two relay processes share a Redis broker and a PostgreSQL store behind
// the clients; one is killed with kill -9 in the middle of the load and the
// other carries on: every record of the topic is in the tables exactly
// once.
func TestRelayHighAvailability(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped under -short")
	}
	relayKillRun(t, true, "redis")
}

// The same on Kafka: two processes on one Kafka cluster (an in-process
// kfake cluster of three brokers the binaries reach over TCP).
func TestRelayHighAvailabilityKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped under -short")
	}
	relayKillRun(t, true, "kafka")
}

func relayKillRun(t *testing.T, pair bool, engine ...string) {
	ctx := context.Background()
	pgDSN := testenv.Postgres(t)
	pg, err := sql.Open("pgx", pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() }) // after the schema is dropped: cleanups run last first
	schema := fmt.Sprintf("crash%06d", rand.IntN(1_000_000))
	for _, q := range []string{`CREATE SCHEMA ` + schema,
		`CREATE TABLE ` + schema + `.cars (id INTEGER PRIMARY KEY, car_name TEXT, price BIGINT)`,
		`CREATE TABLE ` + schema + `.car_log (seq BIGSERIAL PRIMARY KEY, car_id INTEGER, car_name TEXT)`} {
		if _, err := pg.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { pg.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })

	bin := buildArus(t)
	data := t.TempDir()
	serveArgs := []string{"--components", "backbone,relay"}
	storeArgs := []string{"--data", data}
	if pair {
		// Both processes on one Redis broker (a key prefix of their own)
		// and one PostgreSQL store (a schema of its own), with one secret key.
		broker := ""
		if len(engine) > 0 && engine[0] == "kafka" {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(3))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cluster.Close)
			broker = "kafka://" + strings.Join(cluster.ListenAddrs(), ",")
		} else {
			broker = "redis://" + testenv.Redis(t) + "/0?prefix=" + schema
		}
		u := pgDSN + "&schema=" + schema + "_store"
		if !strings.Contains(pgDSN, "?") {
			u = pgDSN + "?schema=" + schema + "_store"
		}
		t.Cleanup(func() { pg.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS `+schema+`_store CASCADE`) })
		serveArgs = append(serveArgs, "--broker", broker, "--db", u,
			"--secret-key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
		storeArgs = []string{"--db", u}
	}
	out, err := exec.Command(bin, append(append([]string{"keys", "create"}, storeArgs...), "--name", "ops",
		"--scope", "relay.read", "--scope", "relay.write", "--scope", "topics.read", "--scope", "records.read")...).Output()
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(out))
	p1 := startArus(t, bin, data, serveArgs...)
	var p2 *arusProcess
	if pair {
		p2 = startArus(t, bin, t.TempDir(), serveArgs...)
	}
	var base atomic.Value
	base.Store(p1.url)
	call := func(method, path, key, body string, header ...string) (int, string, error) {
		req, _ := http.NewRequest(method, base.Load().(string)+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	create := func(path, body string) map[string]any {
		t.Helper()
		status, b, err := call("POST", path, admin, body)
		if err != nil || status != 201 {
			t.Fatalf("POST %s: %d %s %v", path, status, b, err)
		}
		var v map[string]any
		_ = json.Unmarshal([]byte(b), &v)
		return v
	}
	create("/api/v1/relay/datasets", `{"name":"cars","key_fields":["id"]}`)
	app := create("/api/v1/relay/applications", `{"name":"crash-app","datasets":["cars"],"rate_limit":1000000,"burst":1000000}`)
	dest := create("/api/v1/relay/destinations", fmt.Sprintf(`{"name":"pg","kind":"postgres","host":"127.0.0.1","port":5432,"database":"test","user":"postgres","password":"any","options":{"search_path":%q,"sslmode":"disable"}}`, schema))
	create("/api/v1/relay/routes", fmt.Sprintf(`{"name":"cars","dataset":"cars","destination":%q,"table":"cars","mode":"upsert","key_columns":["id"],"deletes":true,
		"mapping":[{"column":"id","field":"id"},{"column":"car_name","field":"car_name"},{"column":"price","field":"price"}]}`, dest["id"]))
	create("/api/v1/relay/routes", fmt.Sprintf(`{"name":"log","dataset":"cars","destination":%q,"table":"car_log","mode":"insert",
		"mapping":[{"column":"car_id","field":"id"},{"column":"car_name","field":"car_name"}]}`, dest["id"]))

	// Four clients post batches with an Idempotency-Key each, retrying a
	// batch until it is answered 202, across the crash.
	key := app["api_key"].(string)
	const clients, perClient = 4, 1500
	var acked atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 11))
			for sent, batchNo := 0, 0; sent < perClient; batchNo++ {
				var batch []string
				for i := 0; i < 10; i++ {
					id := c + clients*rng.IntN(300)
					if rng.IntN(8) == 0 {
						batch = append(batch, fmt.Sprintf(`{"op":"delete","data":{"id":%d}}`, id))
					} else {
						batch = append(batch, fmt.Sprintf(`{"id":%d,"car_name":"c%d-%d-%d","price":%d}`, id, c, batchNo, i, rng.IntN(1_000_000)))
					}
				}
				body := "[" + strings.Join(batch, ",") + "]"
				for deadline := time.Now().Add(60 * time.Second); ; {
					status, _, err := call("POST", "/api/v1/datasets/cars/records", key, body, "Idempotency-Key", fmt.Sprintf("c%d-b%d", c, batchNo))
					if err == nil && status == 202 {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("batch c%d-b%d never accepted: %d %v", c, batchNo, status, err)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				sent += 10
				acked.Add(10)
			}
		}()
	}
	for acked.Load() < clients*perClient/3 {
		time.Sleep(10 * time.Millisecond)
	}
	if pair {
		// The clients move to the survivor, as a load balancer would.
		base.Store(p2.url)
		p1.kill(t)
	} else {
		p1.kill(t)
		p2 = startArus(t, bin, data, serveArgs...)
		base.Store(p2.url)
	}
	t.Logf("killed with %d records acknowledged", acked.Load())
	wg.Wait()

	// What the topic holds decides what the tables must hold: each record
	// once, the last change of each id in the upsert table. A record stored
	// twice with the same id (its request retried after the kill took the
	// answer) is one record.
	c, err := client.New(p2.url, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.DescribeTopic(ctx, "relay.cars")
	if err != nil {
		t.Fatal(err)
	}
	final := map[int]string{}
	upserts := 0
	seen := map[string]bool{}
	for _, po := range info.Offsets {
		for off := po.Start; off < po.End; {
			recs, err := c.Read(ctx, "relay.cars", po.Partition, off, 1000)
			if err != nil || len(recs) == 0 {
				t.Fatalf("read relay.cars/%d@%d: %v", po.Partition, off, err)
			}
			for _, r := range recs {
				var env struct {
					Op   string `json:"op"`
					Data struct {
						ID    int    `json:"id"`
						Name  string `json:"car_name"`
						Price int64  `json:"price"`
					} `json:"data"`
				}
				if err := json.Unmarshal(r.Value, &env); err != nil {
					t.Fatalf("record %s: %v", r.Value, err)
				}
				if env.Op == "delete" {
					delete(final, env.Data.ID)
				} else {
					final[env.Data.ID] = fmt.Sprintf("%d|%s|%d", env.Data.ID, env.Data.Name, env.Data.Price)
					if !seen[r.ID()] {
						seen[r.ID()] = true
						upserts++
					}
				}
			}
			off = recs[len(recs)-1].Offset + 1
		}
	}
	var want []string
	for _, row := range final {
		want = append(want, row)
	}
	wantSet := strings.Join(slices.Sorted(slices.Values(want)), "\n")
	var got string
	var logRows int
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		rows, err := pg.QueryContext(ctx, `SELECT id, car_name, price FROM `+schema+`.cars`)
		if err != nil {
			continue
		}
		var have []string
		for rows.Next() {
			var id int
			var name string
			var price int64
			_ = rows.Scan(&id, &name, &price)
			have = append(have, fmt.Sprintf("%d|%s|%d", id, name, price))
		}
		rows.Close()
		got = strings.Join(slices.Sorted(slices.Values(have)), "\n")
		_ = pg.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+schema+`.car_log`).Scan(&logRows)
		if got == wantSet && logRows >= upserts {
			break
		}
	}
	if got != wantSet {
		t.Errorf("upsert table differs from the topic's last changes (%d rows want %d)", strings.Count(got, "\n")+1, len(want))
	}
	if logRows != upserts {
		t.Errorf("insert-only table holds %d rows; the topic holds %d distinct upserts: each must be there exactly once", logRows, upserts)
	}
}
