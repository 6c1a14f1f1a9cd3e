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
					cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBuyerProcess$", "-test.count=1")
					cmd.Env = append(os.Environ(), envChild+"=1", envDir+"="+base.Dir, envDSN+"="+base.DSN,
						envArea+"="+id.Area, envBuyers+"=25", envPrefix+"="+fmt.Sprintf("p%d-", child))
					cmd.Stderr = os.Stderr
					out, err := cmd.Output()
					if err != nil {
						t.Errorf("buyer process %d: %v\n%s", child, err, out)
						return
					}
					var got map[string]int
					if err := json.Unmarshal(lastLine(out), &got); err != nil {
						t.Errorf("buyer process %d: output %q: %v", child, out, err)
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
			got, err := buy(ctx, p.inv, id, fmt.Sprintf("%sbuyer-%d", os.Getenv(envPrefix), b))
			if err != nil {
				t.Errorf("buyer %d: %v", b, err)
				return
			}
			mu.Lock()
			outcomes[got]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	out, _ := json.Marshal(outcomes)
	fmt.Printf("\n%s\n", out)
}
