package embedded

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/arus-platform/arus/stream"
)

// planned is what TestQueriesUseIndexes expects of one statement of
// queries.go.
type planned struct {
	name  string
	query string
	// index is the index the plan must name, empty when the statement
	// finds its row by the table's key (or writes without reading).
	index string
	// scan, when set, says why the statement may read a whole table (or
	// index): it runs when the log opens, or seldom and on little.
	scan string
}

// plannedStatements lists every statement of queries.go.
var plannedStatements = []planned{
	{name: "sqlPing", query: sqlPing},

	// Per produce batch and per commit: the plan of an INSERT reads
	// nothing, and the upsert's conflict target is group_offsets' key
	// (SQLite refuses to prepare one that is not a unique index).
	{name: "sqlInsertChunk", query: sqlInsertChunk},
	{name: "sqlCommitOffset", query: sqlCommitOffset},

	// Per fetch, per step of the search by time, per lag of DescribeGroup.
	{name: "sqlFetch", query: sqlFetch, index: "chunks_position"},
	{name: "sqlChunkAt", query: sqlChunkAt, index: "chunks_position"},
	{name: "sqlChunkDataAt", query: sqlChunkDataAt, index: "chunks_position"},

	// Retention, per partition and per deleting transaction.
	{name: "sqlChunkSizes", query: sqlChunkSizes, index: "chunks_position"},
	{name: "sqlChunkData", query: sqlChunkData, index: "chunks_position"},
	{name: "sqlLastChunkBefore", query: sqlLastChunkBefore, index: "chunks_position"},
	{name: "sqlDeleteChunk", query: sqlDeleteChunk, index: "chunks_position"},
	{name: "sqlSizeBefore", query: sqlSizeBefore, index: "chunks_position"},
	{name: "sqlDeleteBefore", query: sqlDeleteBefore, index: "chunks_position"},
	{name: "sqlMoveStart", query: sqlMoveStart},

	// Freeing the chunks of deleted topics.
	{name: "sqlNextDropped", query: sqlNextDropped,
		scan: "takes the first row of a table holding only the partitions of deleted topics not yet freed"},
	{name: "sqlPurgeChunks", query: sqlPurgeChunks, index: "chunks_position"},
	{name: "sqlForgetDropped", query: sqlForgetDropped},

	// Loading the catalog, once when the log opens.
	{name: "sqlLoadTopics", query: sqlLoadTopics, scan: "loads every topic when the log opens"},
	{name: "sqlLoadPartitions", query: sqlLoadPartitions, scan: "loads every partition when the log opens"},
	{name: "sqlLoadEnds", query: sqlLoadEnds,
		scan: "sums every partition's chunks when the log opens, from the index alone"},
	{name: "sqlLoadGroupTopics", query: sqlLoadGroupTopics, scan: "loads every group's topics when the log opens"},
	{name: "sqlLoadOffsets", query: sqlLoadOffsets, scan: "loads every committed offset when the log opens"},

	// Administration of topics and groups.
	{name: "sqlInsertTopic", query: sqlInsertTopic},
	{name: "sqlInsertPartition", query: sqlInsertPartition},
	{name: "sqlDropPartition", query: sqlDropPartition},
	{name: "sqlDeletePartitionOffsets", query: sqlDeletePartitionOffsets,
		scan: "DeleteTopic is rare; group_offsets is keyed by group first, and an index on pid would cost every commit"},
	{name: "sqlDeleteTopicPartitions", query: sqlDeleteTopicPartitions, index: "sqlite_autoindex_partitions_1"},
	{name: "sqlDeleteTopicGroups", query: sqlDeleteTopicGroups,
		scan: "DeleteTopic is rare; group_topics holds a row per group and topic, keyed by group first"},
	{name: "sqlDeleteTopic", query: sqlDeleteTopic},
	{name: "sqlRegisterGroup", query: sqlRegisterGroup},
	{name: "sqlDeleteGroupTopics", query: sqlDeleteGroupTopics},
	{name: "sqlDeleteGroupOffsets", query: sqlDeleteGroupOffsets},
}

// TestQueriesUseIndexes checks SQLite's plan of every statement the log
// runs, on a log holding records in many chunks, committed offsets and a
// deleted topic: the statements run per produce batch, per fetch, per
// commit and by retention find their rows through an index (a SEARCH, never
// a SCAN of a table or of a whole index) and never sort them in a temporary
// B-tree. The few that read everything say why that is fine.
func TestQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	b := open(t, Config{})
	for _, name := range []string{"plans", "gone"} {
		if err := b.CreateTopic(ctx, stream.Topic{Name: name, Partitions: 2}); err != nil {
			t.Fatal(err)
		}
	}
	value := make([]byte, 1000)
	for range 20 {
		var recs []*stream.Record
		for i := range 200 {
			for _, topic := range []string{"plans", "gone"} {
				recs = append(recs, &stream.Record{Topic: topic, Partition: int32(i % 2), Value: value})
			}
		}
		if err := b.Produce(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	for _, group := range []string{"a", "b", "c"} {
		if _, err := b.ResetOffsets(ctx, group, "plans", stream.Reset{To: stream.ResetLatest}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.DeleteTopic(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	p, err := b.partition("plans", 1)
	if err != nil {
		t.Fatal(err)
	}

	for _, s := range plannedStatements {
		// The values bound do not change the plan; they name a real
		// partition all the same.
		args := make([]any, strings.Count(s.query, "?"))
		for i := range args {
			args[i] = p.pid
		}
		steps := explainPlan(t, b, s.query, args)
		plan := strings.Join(steps, "; ")
		if s.scan != "" {
			t.Logf("%s reads everything (%s): %s", s.name, s.scan, plan)
			continue
		}
		t.Logf("%s: %s", s.name, plan)
		for _, step := range steps {
			if strings.HasPrefix(step, "SCAN ") && step != "SCAN CONSTANT ROW" {
				t.Errorf("%s: plan %q reads a whole table or index (%s)", s.name, plan, step)
			}
			if strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s: plan %q sorts in a temporary B-tree (%s)", s.name, plan, step)
			}
		}
		if s.index != "" && !strings.Contains(plan, " INDEX "+s.index) {
			t.Errorf("%s: plan %q does not use %s", s.name, plan, s.index)
		}
	}
}

// explainPlan returns the steps of SQLite's plan of query.
func explainPlan(t *testing.T, b *Broker, query string, args []any) []string {
	t.Helper()
	var steps []string
	err := b.readers.with(context.Background(), func(c *dbConn) error {
		rs, err := c.query("EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			return err
		}
		for rs.next() {
			steps = append(steps, rs.str(3))
		}
		return rs.close()
	})
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	return steps
}

// TestQueriesAreListed keeps TestQueriesUseIndexes from drifting from the
// code: every statement of queries.go is in plannedStatements under its
// own name, and the rest of the package runs no SQL text of its own but
// transaction control and pragmas.
func TestQueriesAreListed(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "queries.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := make(map[string]string)
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			for i, n := range v.Names {
				lit, ok := v.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("queries.go: %s is not a string literal", n.Name)
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				consts[n.Name] = s
			}
		}
	}
	listed := make(map[string]bool)
	for _, s := range plannedStatements {
		if q, ok := consts[s.name]; !ok || q != s.query {
			t.Errorf("plannedStatements: %s is not the statement of that name in queries.go", s.name)
		}
		listed[s.name] = true
	}
	for name := range consts {
		if !listed[name] {
			t.Errorf("queries.go: %s is missing from plannedStatements", name)
		}
	}

	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "queries.go" {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch sel.Sel.Name {
			case "exec", "insert", "query", "queryInt", "stmt":
			default:
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			q, _ := strconv.Unquote(lit.Value)
			for _, word := range []string{"BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"} {
				if strings.HasPrefix(q, word) {
					return true
				}
			}
			t.Errorf("%s: %.60q runs SQL text of its own; name it in queries.go", fset.Position(lit.Pos()), q)
			return true
		})
	}
}
