package sink

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/arus-platform/arus/internal/testenv"
)

// No SQL Server runs where the tests usually run: these tests check the
// statements the dialect generates, its quoting and chunking, and its
// error classification on the driver's error values. TestSQLServer runs
// the whole sink suite against a real server when ARUS_TEST_SQLSERVER
// names one.

func TestSQLServerQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"items", "[items]"},
		{"a]b", "[a]]b]"},
		{"x]; DROP TABLE t; --", "[x]]; DROP TABLE t; --]"},
		{`"q"`, `["q"]`},
	} {
		if got := (sqlserver{}).quote(tc.in); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestSQLServerStatements(t *testing.T) {
	d := sqlserver{}
	table := d.quote("dbo") + "." + d.quote("items")
	for _, tc := range []struct {
		name, got, want string
	}{
		{"merge", d.upsert(table, []string{"[id]", "[name]", "[price]"}, []string{"[id]"}, 2),
			"MERGE INTO [dbo].[items] WITH (HOLDLOCK) AS [t] USING (VALUES (@p1,@p2,@p3),(@p4,@p5,@p6)) AS [s] ([id],[name],[price]) ON [t].[id] = [s].[id]" +
				" WHEN MATCHED THEN UPDATE SET [name] = [s].[name],[price] = [s].[price]" +
				" WHEN NOT MATCHED THEN INSERT ([id],[name],[price]) VALUES ([s].[id],[s].[name],[s].[price]);"},
		{"merge of key columns only", d.upsert(table, []string{"[a]", "[b]"}, []string{"[a]", "[b]"}, 1),
			"MERGE INTO [dbo].[items] WITH (HOLDLOCK) AS [t] USING (VALUES (@p1,@p2)) AS [s] ([a],[b]) ON [t].[a] = [s].[a] AND [t].[b] = [s].[b]" +
				" WHEN NOT MATCHED THEN INSERT ([a],[b]) VALUES ([s].[a],[s].[b]);"},
		{"insert", d.insert(table, []string{"[body]"}, 3), "INSERT INTO [dbo].[items] ([body]) VALUES (@p1),(@p2),(@p3)"},
		{"delete", d.delete(table, []string{"[id]"}, 3), "DELETE FROM [dbo].[items] WHERE [id] IN (@p1,@p2,@p3)"},
		{"delete composite", d.delete(table, []string{"[a]", "[b]"}, 2), "DELETE FROM [dbo].[items] WHERE ([a] = @p1 AND [b] = @p2) OR ([a] = @p3 AND [b] = @p4)"},
		{"positions", d.createPositions("[arus_relay_positions]"), "IF OBJECT_ID(N'[arus_relay_positions]', N'U') IS NULL CREATE TABLE [arus_relay_positions] ("},
	} {
		if !strings.HasPrefix(tc.got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

// Every chunk of a 500-row batch of 10 columns stays within SQL Server's
// 2100 parameters, and the chunks cover the batch exactly.
func TestSQLServerChunks(t *testing.T) {
	d := sqlserver{}
	cols := make([]string, 10)
	for i := range cols {
		cols[i] = d.quote(string(rune('a' + i)))
	}
	next := 0
	for _, ch := range chunks(500, len(cols), d.maxParams()) {
		if ch[0] != next {
			t.Fatalf("chunk starts at %d, want %d", ch[0], next)
		}
		next = ch[1]
		rows := ch[1] - ch[0]
		if params := rows * len(cols); params > 2100 {
			t.Errorf("chunk %v has %d parameters, over 2100", ch, params)
		}
		q := d.upsert("[t]", cols, cols[:1], rows)
		if last := "@p" + itoa(rows*len(cols)) + ")"; !strings.Contains(q, last) || strings.Contains(q, "@p"+itoa(rows*len(cols)+1)) {
			t.Errorf("chunk %v: statement does not end its parameters at %s", ch, last)
		}
	}
	if next != 500 {
		t.Errorf("chunks cover %d rows, want 500", next)
	}
	if got := len(chunks(500, 10, d.maxParams())); got != 3 {
		t.Errorf("500 rows of 10 columns in %d statements, want 3", got)
	}
}

func TestSQLServerClassify(t *testing.T) {
	d := sqlserver{}
	for _, tc := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"deadlock victim", mssql.Error{Number: 1205, Message: "Transaction was deadlocked"}, true},
		{"lock timeout", mssql.Error{Number: 1222}, true},
		{"database unavailable", mssql.Error{Number: 4060}, true},
		{"primary key violation", mssql.Error{Number: 2627}, false},
		{"string truncated", mssql.Error{Number: 2628}, false},
		{"invalid column", mssql.Error{Number: 207}, false},
		{"wrapped deadlock", errors.Join(errors.New("exec"), mssql.Error{Number: 1205}), true},
		{"timeout", context.DeadlineExceeded, true},
	} {
		got := d.classify(tc.err)
		var pe *PermanentError
		if isT := errors.Is(got, ErrTransient); isT != tc.transient || (!isT && !errors.As(got, &pe)) {
			t.Errorf("%s: classify(%v) = %v, want transient %v (else *PermanentError)", tc.name, tc.err, got, tc.transient)
		}
	}
	if !d.denied(mssql.Error{Number: 262}) || d.denied(mssql.Error{Number: 2627}) {
		t.Errorf("denied: want 262 (CREATE TABLE permission denied) only")
	}
}

// Nothing listens on port 1: opening fails as transient.
func TestSQLServerUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, SQLServer, Config{DSN: "sqlserver://sa:x@127.0.0.1:1?database=test&dial+timeout=2", StatementTimeout: 5 * time.Second})
	if !errors.Is(err, ErrTransient) {
		t.Errorf("Open = %v, want ErrTransient", err)
	}
}

func TestSQLServerTypes(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		v    any
		want any
		bad  bool
	}{
		{"bit", true, int64(1), false},
		{"tinyint", int64(255), int64(255), false},
		{"tinyint", int64(-1), nil, true},
		{"nvarchar(3)", "abcd", nil, true},
		{"nvarchar(max)", strings.Repeat("x", 5000), strings.Repeat("x", 5000), false},
		{"decimal(5,2)", "123.45", "123.45", false},
		{"decimal(5,2)", "1234.5", nil, true},
		{"datetime2", "2026-01-02T03:04:05Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), false},
	} {
		got, err := parseType(SQLServer, tc.typ).coerce(tc.v)
		if (err != nil) != tc.bad || (!tc.bad && !equalValue(got, tc.want)) {
			t.Errorf("coerce %s %v = %v, %v; want %v (error %v)", tc.typ, tc.v, got, err, tc.want, tc.bad)
		}
	}
}

// sqlserverHarness runs the sink suite against a SQL Server named by
// ARUS_TEST_SQLSERVER, in a database of its own per test; without the
// variable the suite is skipped.
var sqlserverHarness = harness{
	dialect: SQLServer,
	open: func(t testing.TB) (*DB, *sql.DB) {
		base := testenv.SQLServer(t)
		root, err := sql.Open("sqlserver", base)
		if err != nil {
			t.Fatal(err)
		}
		name := randomName("arus")
		mustExec(t, root, "CREATE DATABASE "+name)
		t.Cleanup(func() {
			root.Exec("ALTER DATABASE " + name + " SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
			root.Exec("DROP DATABASE " + name)
			root.Close()
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("database", name)
		u.RawQuery = q.Encode()
		admin, err := sql.Open("sqlserver", u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close() })
		s, err := Open(ctxT(t), SQLServer, Config{DSN: u.String()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, admin
	},
	ddl: map[string]string{
		"items":  "CREATE TABLE items (id bigint PRIMARY KEY, name nvarchar(20) NOT NULL, price decimal(10,2), active bit, data nvarchar(max), at datetimeoffset(6), note nvarchar(50) DEFAULT 'x')",
		"events": "CREATE TABLE events (seq bigint IDENTITY(1,1) PRIMARY KEY, body nvarchar(100) NOT NULL)",
		"pairs":  "CREATE TABLE pairs (a int, b varchar(10), v int, PRIMARY KEY (a, b))",
	},
}

func TestSQLServer(t *testing.T) { runSuite(t, sqlserverHarness) }
