package inventory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/inventory"
)

// Environment of a buyer process started by TestBuyersInSeveralProcesses.
const (
	envChild  = "ARUS_INVENTORY_BUYER_PROCESS"
	envDir    = "ARUS_INVENTORY_DIR"
	envDSN    = "ARUS_INVENTORY_DSN"
	envArea   = "ARUS_INVENTORY_AREA"
	envBuyers = "ARUS_INVENTORY_BUYERS"
	envPrefix = "ARUS_INVENTORY_PREFIX"
	// envEndless makes each buyer buy again with a new order after each
	// purchase, until the area is sold out or the process is killed.
	envEndless = "ARUS_INVENTORY_ENDLESS"
)

// 100 buyers for 10 tickets in four operating-system processes sharing
// the store, round after round: exactly 10 sold every time.
func TestBuyersInSeveralProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped with -short")
	}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		p := openProcess(t, base, inventory.Config{})
		for round := range 5 {
			id := inventory.AreaID{Event: "procs", Area: fmt.Sprintf("r%d", round)}
			if err := p.inv.SetCapacity(ctx, id, 10); err != nil {
				t.Fatal(err)
			}
			total := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for child := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := runBuyers(buyerProcess(ctx, base, id, 25, fmt.Sprintf("p%d-", child)))
					if err != nil {
						t.Errorf("buyer process %d: %v", child, err)
						return
					}
					mu.Lock()
					for k, v := range got {
						total[k] += v
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			if total["sold"] != 10 || total["sold out"] != 90 {
				t.Fatalf("round %d: outcomes %v, want 10 sold and 90 sold out", round, total)
			}
		}
		mustAudit(t, p.inv)
	})
}

// buyerProcess returns the command that runs buyers in a process of its
// own (TestBuyerProcess), each buying one ticket of the area.
func buyerProcess(ctx context.Context, base store.Config, id inventory.AreaID, buyers int, prefix string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBuyerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"=1", envDir+"="+base.Dir, envDSN+"="+base.DSN,
		envArea+"="+id.Area, envBuyers+"="+strconv.Itoa(buyers), envPrefix+"="+prefix)
	cmd.Stderr = os.Stderr
	return cmd
}

// runBuyers runs a buyer process and returns its outcomes.
func runBuyers(cmd *exec.Cmd) (map[string]int, error) {
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	var got map[string]int
	if err := json.Unmarshal(lastLine(out), &got); err != nil {
		return nil, fmt.Errorf("output %q: %w", out, err)
	}
	return got, nil
}

// A buyer process killed with SIGKILL in the middle of buying, while three
// others buy: no ticket is lost or sold twice. The survivors get what they
// asked for, and the audit finds every event, the killed process's
// included, sound and the read model in agreement.
func TestBuyerProcessKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped with -short")
	}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		p := openProcess(t, base, inventory.Config{})
		id := inventory.AreaID{Event: "procs", Area: "killed"}
		const capacity = 1_000_000
		if err := p.inv.SetCapacity(ctx, id, capacity); err != nil {
			t.Fatal(err)
		}
		victim := buyerProcess(ctx, base, id, 16, "victim-")
		victim.Env = append(victim.Env, envEndless+"=1")
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		survivors := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for child := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := runBuyers(buyerProcess(ctx, base, id, 100, fmt.Sprintf("p%d-", child)))
				if err != nil {
					t.Errorf("buyer process %d: %v", child, err)
					return
				}
				mu.Lock()
				for k, v := range got {
					survivors[k] += v
				}
				mu.Unlock()
			}()
		}
		var seen, victims int64
		waitUntil(t, "the process to be killed to have written 100 events", func() bool {
			events, err := p.es.Load(ctx, "area/procs/killed", seen)
			for _, e := range events {
				seen = e.Version
				if bytes.Contains(e.Data, []byte(`"order":"victim-`)) {
					victims++
				}
			}
			return err == nil && victims >= 100
		})
		if err := victim.Process.Kill(); err != nil {
			t.Fatalf("kill: %v", err)
		}
		if err := victim.Wait(); err == nil {
			t.Fatal("the killed process exited cleanly: it was not killed mid-flow")
		}
		wg.Wait()
		if survivors["sold"] != 300 {
			t.Errorf("survivors' outcomes %v, want 300 sold", survivors)
		}
		av, err := p.inv.Availability(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("after the kill: %d sold, %d held", av.Sold, av.Held)
		// The killed process's last commit may still land after this
		// (the server finishes a COMMIT it received), so the audit, which
		// reads later, may see more: each view is checked on its own.
		r := mustAudit(t, p.inv)
		if a := r.Areas[0]; a.Sold < 300 || av.Sold < 300 || a.Sold < av.Sold {
			t.Errorf("audit %+v, availability %+v: want at least the survivors' 300 sold in both", a, av)
		}
	})
}

// lastLine returns the last line of a buyer process's output that holds
// a JSON object: its outcomes.
func lastLine(out []byte) []byte {
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(lines[i], []byte("{")) {
			return lines[i]
		}
	}
	return nil
}

// TestBuyerProcess is the body of one buyer process; it does nothing in
// a normal test run.
func TestBuyerProcess(t *testing.T) {
	if os.Getenv(envChild) != "1" {
		t.Skip("run by TestBuyersInSeveralProcesses")
	}
	ctx := context.Background()
	p := openProcess(t, store.Config{Dir: os.Getenv(envDir), DSN: os.Getenv(envDSN)}, inventory.Config{})
	id := inventory.AreaID{Event: "procs", Area: os.Getenv(envArea)}
	n, err := strconv.Atoi(os.Getenv(envBuyers))
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for b := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				got, err := buy(ctx, p.inv, id, fmt.Sprintf("%sbuyer-%d-%d", os.Getenv(envPrefix), b, i))
				if err != nil {
					t.Errorf("buyer %d: %v", b, err)
					return
				}
				mu.Lock()
				outcomes[got]++
				mu.Unlock()
				if got == "sold out" || os.Getenv(envEndless) != "1" {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	out, _ := json.Marshal(outcomes)
	fmt.Printf("\n%s\n", out)
}
