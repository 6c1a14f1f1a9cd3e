package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestBenchRelay(t *testing.T) {
	data := t.TempDir()
	admin := mustKey(t, data, "relay.read", "relay.write", "topics.read")
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
	env := map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": app.APIKey}
	r := must(t, env, "", "bench", "relay", "--dataset", "cars", "--mode", "batch", "--batch", "10", "--concurrency", "4", "--duration", "1s")
	m := regexp.MustCompile(`records:\s+(\d+) accepted`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("bench output lacks the records line:\n%s", r.stdout)
	}
	accepted, _ := strconv.Atoi(m[1])
	if accepted == 0 || !strings.Contains(r.stdout, "p99") {
		t.Errorf("bench accepted %d records; output:\n%s", accepted, r.stdout)
	}
	// Every accepted record is in the dataset's topic; requests still in
	// flight when the run ended may have been stored too (at most one per
	// client, 10 records each).
	d := must(t, map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": admin}, "", "topics", "describe", "relay.cars")
	sm := regexp.MustCompile(`Records: (\d+)`).FindStringSubmatch(d.stdout)
	stored, _ := strconv.Atoi(sm[1])
	if stored < accepted || stored > accepted+4*10 {
		t.Errorf("topic holds %d records for %d accepted", stored, accepted)
	}
	if r := arus(t, env, "", "bench", "relay", "--dataset", "cars", "--mode", "sideways"); r.err == nil {
		t.Errorf("bench with a bad mode succeeded")
	}
}
