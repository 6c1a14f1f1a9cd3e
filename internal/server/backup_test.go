package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/backup"
)

// GET /api/v1/backup needs backup.read and nothing else grants it: a key
// with any other permission, bare, is refused with a coded 403, and so is
// a signed-in user of every role but the admin. A key with backup.read
// alone gets the archive (every database and secret.key, its checksums
// right), and the audit log records it though it is a GET.
func TestBackupRouteNeedsItsOwnPermission(t *testing.T) {
	r := start(t, Config{})
	ctx := context.Background()
	admin := r.key(t, permsAll("")...)
	if rep := r.call(t, "POST", "/api/v1/topics", admin, `{"name":"orders","partitions":1}`); rep.status != 201 {
		t.Fatalf("create topic: %d %s", rep.status, rep.body)
	}
	if rep := r.call(t, "POST", "/api/v1/topics/orders/records", admin, `{"records":[{"key":"k","value":"v"}]}`); rep.status != 200 {
		t.Fatalf("produce: %d %s", rep.status, rep.body)
	}

	for _, p := range auth.Permissions() {
		if p == auth.PermBackupRead {
			continue
		}
		rep := r.call(t, "GET", "/api/v1/backup", r.key(t, string(p)), "")
		if code, err := problemCode(rep); err != nil || rep.status != http.StatusForbidden {
			t.Errorf("backup with a key of scope %s: %d %v (code %q), want 403 with a code", p, rep.status, err, code)
		}
	}
	for _, role := range auth.Roles() {
		token, _ := r.signedIn(t, "b-", role)
		rep := r.call(t, "GET", "/api/v1/backup", "", "", "Cookie", auth.SessionCookie+"="+token)
		if role == auth.RoleAdmin {
			if rep.status != http.StatusOK {
				t.Errorf("backup as a user with role admin: %d %.300s, want 200", rep.status, rep.body)
			}
			continue
		}
		if code, err := problemCode(rep); err != nil || rep.status != http.StatusForbidden || code != "permission_denied" {
			t.Errorf("backup as a user with role %s: %d %v (code %q), want 403 permission_denied", role, rep.status, err, code)
		}
	}

	only := r.key(t, string(auth.PermBackupRead))
	rep := r.call(t, "GET", "/api/v1/backup", only, "")
	if rep.status != http.StatusOK || rep.header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("backup with backup.read: %d %s %.300s", rep.status, rep.header.Get("Content-Type"), rep.body)
	}
	if cd := rep.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="arus-`) || !strings.HasSuffix(cd, `Z.backup"`) {
		t.Errorf("Content-Disposition %q, want an attachment named by the time", cd)
	}
	m, err := backup.Verify(strings.NewReader(rep.body))
	if err != nil {
		t.Fatalf("the archive does not verify: %v", err)
	}
	var files []string
	for _, f := range m.Files {
		files = append(files, f.Path)
	}
	for _, want := range []string{"stream.db", "auth.db", "secret.key"} {
		if !slices.Contains(files, want) {
			t.Errorf("the backup holds %v, not %s", files, want)
		}
	}

	page, err := r.auditLog.List(ctx, audit.Query{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var taken, refused int
	for _, e := range page.Entries {
		if e.Route != "GET /api/v1/backup" {
			continue
		}
		switch {
		case e.Status == http.StatusOK && strings.HasPrefix(e.Summary, "take a backup of "):
			taken++
		case e.Status == http.StatusForbidden && e.Summary == "take a backup":
			refused++
		default:
			t.Errorf("audit entry %d %q by %s", e.Status, e.Summary, e.Actor)
		}
	}
	if want := len(auth.Permissions()) - 1 + len(auth.Roles()) - 1; taken != 2 || refused != want {
		t.Errorf("audit log: %d backups taken, %d refused; want 2 and %d", taken, refused, want)
	}
}

// One backup runs at a time: a request while one runs is answered 409
// backup_running, and the running one completes.
func TestBackupOneAtATime(t *testing.T) {
	r := start(t, Config{})
	key := r.key(t, string(auth.PermBackupRead))
	started, release := make(chan struct{}), make(chan struct{})
	hook := func() { close(started); <-release }
	r.backups.taking.Store(&hook)
	type answer struct {
		status int
		err    error
	}
	first := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", r.url+"/api/v1/backup", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		_, err = backup.Verify(resp.Body)
		first <- answer{status: resp.StatusCode, err: err}
	}()
	<-started
	r.backups.taking.Store(nil)
	rep := r.call(t, "GET", "/api/v1/backup", key, "")
	if code, err := problemCode(rep); err != nil || rep.status != http.StatusConflict || code != "backup_running" {
		t.Errorf("a second backup while one runs: %d %v (code %q), want 409 backup_running", rep.status, err, code)
	}
	close(release)
	if a := <-first; a.err != nil || a.status != http.StatusOK {
		t.Errorf("the running backup: %d %v, want 200 and a whole archive", a.status, a.err)
	}
	if rep := r.call(t, "GET", "/api/v1/backup", key, ""); rep.status != http.StatusOK {
		t.Errorf("a backup after the first ended: %d %.300s, want 200", rep.status, rep.body)
	}
}
