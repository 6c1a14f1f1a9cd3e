package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/dlqapi"
	"github.com/arus-platform/arus/stream"
)

const dlqAbout = `
Inspects and acts on dead-letter queues, the topics <topic>.<group>.dlq
where a consumer group parks the records it failed on:

  arus dlq list
  arus dlq show orders.billing.dlq
  arus dlq show orders.billing.dlq --error timeout --from 2025-01-31 --reasons
  arus dlq show orders.billing.dlq --record 0/17
  arus dlq replay orders.billing.dlq --record 0/17
  arus dlq replay orders.billing.dlq --error timeout
  arus dlq replay orders.billing.dlq --all
  arus dlq discard orders.billing.dlq --key order-42

Replay sends records to <topic>.<group>.retry, which only that group reads,
with their arus-id, so the group's deduplication still holds. Replayed and
discarded records are no longer shown (unless --all-states) and are never
replayed by --all. Replay and discard need --all, --record or a filter.`

// dlqTool is what the dlq command needs: a dlq.Manager over a broker, or a
// dlqapi.Client of a server.
type dlqTool interface {
	List(ctx context.Context) ([]dlq.Queue, error)
	Records(ctx context.Context, name string, f dlq.Filter) ([]dlq.Letter, error)
	Get(ctx context.Context, name string, p dlq.Position) (dlq.Letter, error)
	Reasons(ctx context.Context, name string, f dlq.Filter) ([]dlq.Reason, error)
	Replay(ctx context.Context, name string, f dlq.Filter) (int, error)
	Discard(ctx context.Context, name string, f dlq.Filter) (int, error)
}

func runDLQ(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "dlq", dlqAbout,
		action{"list", dlqList},
		action{"show", dlqShow},
		action{"replay", func(ctx context.Context, e *env, args []string) error { return dlqAct(ctx, e, args, "replay") }},
		action{"discard", func(ctx context.Context, e *env, args []string) error { return dlqAct(ctx, e, args, "discard") }},
	)
}

// openDLQ returns the tool the connection flags point at and a function
// that releases it.
func openDLQ(ctx context.Context, e *env, c *conn) (dlqTool, func(), error) {
	if server, ok := c.remote(); ok {
		cl, err := dlqapi.NewClient(server, c.apiKey)
		return cl, func() {}, err
	}
	b, logger, err := c.local(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	m, err := dlq.New(b, dlq.Config{Logger: logger})
	if err != nil {
		_ = b.Close()
		return nil, nil, err
	}
	return m, func() { _ = b.Close() }, nil
}

// dlqArg returns the one queue named by the argument.
func dlqArg(f *flags, rest []string) (string, error) {
	switch {
	case len(rest) == 0:
		return "", f.fail("no dead-letter queue given; name one, e.g. orders.billing.dlq (see arus dlq list)")
	case len(rest) > 1:
		return "", f.fail("one dead-letter queue at a time; got %q", rest)
	}
	if !dlq.IsQueue(rest[0]) {
		return "", f.fail("%q is not a dead-letter queue: its name must end in .dlq", rest[0])
	}
	if err := stream.ValidateTopicName(rest[0]); err != nil {
		return "", f.fail("%v", err)
	}
	return rest[0], nil
}

// queueArgs registers the flags that select dead letters and the
// connection flags, parses the command line of a command on one queue and
// returns the queue, the selection and the connection.
func queueArgs(f *flags, args []string) (string, dlq.Filter, *conn, error) {
	ff := addFilterFlags(f)
	c, rest, err := connArgs(f, args)
	if err != nil {
		return "", dlq.Filter{}, nil, err
	}
	name, err := dlqArg(f, rest)
	if err != nil {
		return "", dlq.Filter{}, nil, err
	}
	flt, err := ff.filter(f)
	return name, flt, c, err
}

// filterFlags are the flags that select dead letters.
type filterFlags struct {
	errText, key, from, to string
	records                *listFlag
}

func addFilterFlags(f *flags) *filterFlags {
	ff := &filterFlags{records: &listFlag{split: true}}
	f.StringVar(&ff.errText, "error", "", "select records whose error contains `text` (any case)")
	f.StringVar(&ff.key, "key", "", "select records with this `key`")
	f.StringVar(&ff.from, "from", "", "select records dead-lettered at or after `time`: RFC 3339, or local 2025-01-31T15:04:05 or 2025-01-31")
	f.StringVar(&ff.to, "to", "", "select records dead-lettered before `time`")
	f.Var(ff.records, "record", "select the record at `partition/offset` in the queue (repeatable, or comma-separated)")
	return ff
}

func (ff *filterFlags) filter(f *flags) (dlq.Filter, error) {
	flt := dlq.Filter{Error: ff.errText, Key: ff.key}
	for _, s := range []struct {
		name, v string
		t       *time.Time
	}{{"--from", ff.from, &flt.From}, {"--to", ff.to, &flt.To}} {
		if s.v == "" {
			continue
		}
		t, err := parseDateTime(s.v)
		if err != nil {
			return flt, f.fail("%s: %v", s.name, err)
		}
		*s.t = t
	}
	for _, s := range ff.records.values {
		p, err := parsePosition(s)
		if err != nil {
			return flt, f.fail("--record: %v", err)
		}
		flt.Positions = append(flt.Positions, p)
	}
	return flt, nil
}

func parsePosition(s string) (dlq.Position, error) {
	ps, offs, ok := strings.Cut(s, "/")
	p, perr := strconv.ParseInt(ps, 10, 32)
	o, oerr := strconv.ParseInt(offs, 10, 64)
	if !ok || perr != nil || oerr != nil || p < 0 || o < 0 {
		return dlq.Position{}, fmt.Errorf("%q is not a position; use partition/offset, e.g. 0/17", s)
	}
	return dlq.Position{Partition: int32(p), Offset: o}, nil
}

func dlqList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "dlq list", "arus dlq list [flags]", dlqAbout)
	c, rest, err := connArgs(f, args)
	if err != nil {
		return err
	}
	if err := noArgs(f, rest); err != nil {
		return err
	}
	tool, done, err := openDLQ(ctx, e, c)
	if err != nil {
		return err
	}
	defer done()
	qs, err := tool.List(ctx)
	if err != nil {
		return fmt.Errorf("list dead-letter queues: %w", err)
	}
	tw := newTable(e.stdout, "DLQ\tTOPIC\tGROUP\tPENDING\tRECORDS")
	for _, q := range qs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", q.Name, dash(q.Topic), dash(q.Group), q.Pending, q.Records)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dlqShow(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "dlq show", "arus dlq show NAME [--error TEXT] [--key KEY] [--from TIME] [--to TIME] [--record P/O] [--reasons] [flags]", dlqAbout)
	reasons := f.Bool("reasons", false, "group the selected records by error instead of listing them")
	all := f.Bool("all-states", false, "include records already replayed or discarded")
	limit := f.Int("limit", 100, "show at most `n` records")
	name, flt, c, err := queueArgs(f, args)
	if err != nil {
		return err
	}
	if *limit < 1 || *limit > 10000 {
		return f.fail("--limit %d: use 1 to 10000", *limit)
	}
	flt.All, flt.Limit = *all, *limit
	tool, done, err := openDLQ(ctx, e, c)
	if err != nil {
		return err
	}
	defer done()
	if len(flt.Positions) == 1 && !*reasons {
		l, err := tool.Get(ctx, name, flt.Positions[0])
		if err != nil {
			return fmt.Errorf("show %s record %s: %w", name, flt.Positions[0], err)
		}
		printLetter(e.stdout, l)
		return nil
	}
	if *reasons {
		rs, err := tool.Reasons(ctx, name, flt)
		if err != nil {
			return fmt.Errorf("show %s: %w", name, err)
		}
		tw := newTable(e.stdout, "COUNT\tFIRST\tLAST\tERROR")
		for _, r := range rs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Count, r.First.UTC().Format(time.RFC3339), r.Last.UTC().Format(time.RFC3339), oneLine(r.Error, 100))
		}
		return tw.Flush()
	}
	ls, err := tool.Records(ctx, name, flt)
	if err != nil {
		return fmt.Errorf("show %s: %w", name, err)
	}
	tw := newTable(e.stdout, "POSITION\tSTATE\tDEAD-LETTERED\tFROM\tATTEMPTS\tKEY\tERROR")
	for _, l := range ls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%d/%d\t%d\t%s\t%s\n", l.Position, l.State, l.DeadLettered.UTC().Format(time.RFC3339),
			l.Topic, l.OriginalPartition, l.OriginalOffset, l.Attempts, oneLine(string(l.Record.Key), 30), oneLine(l.Error, 80))
	}
	return tw.Flush()
}

// printLetter prints one dead letter in full.
func printLetter(w io.Writer, l dlq.Letter) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	t := func(v time.Time) string {
		if v.IsZero() {
			return "-"
		}
		return v.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(tw, "Position:\t%s\n", l.Position)
	fmt.Fprintf(tw, "State:\t%s\n", l.State)
	fmt.Fprintf(tw, "From:\ttopic %s, partition %d, offset %d\n", l.Topic, l.OriginalPartition, l.OriginalOffset)
	fmt.Fprintf(tw, "Group:\t%s\n", l.Group)
	fmt.Fprintf(tw, "Record id:\t%s\n", dash(l.Record.ID()))
	fmt.Fprintf(tw, "Error:\t%s\n", l.Error)
	fmt.Fprintf(tw, "Permanent:\t%v\n", l.Permanent)
	fmt.Fprintf(tw, "Attempts:\t%d\n", l.Attempts)
	fmt.Fprintf(tw, "First failure:\t%s\n", t(l.FirstFailure))
	fmt.Fprintf(tw, "Last failure:\t%s\n", t(l.LastFailure))
	fmt.Fprintf(tw, "Dead-lettered:\t%s\n", t(l.DeadLettered))
	fmt.Fprintf(tw, "Replays:\t%d\n", l.Replays)
	fmt.Fprintf(tw, "Key:\t%s\n", printable(l.Record.Key))
	fmt.Fprintf(tw, "Value:\t%s\n", printable(l.Record.Value))
	for _, h := range l.Record.Headers {
		fmt.Fprintf(tw, "Header:\t%s=%s\n", h.Key, printable(h.Value))
	}
	_ = tw.Flush()
}

// printable returns b as text, or a note of its size when it is not UTF-8.
func printable(b []byte) string {
	if !utf8.Valid(b) {
		return fmt.Sprintf("(%d bytes of binary data)", len(b))
	}
	return string(b)
}

// oneLine returns s on one line, cut to max runes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

func dlqAct(ctx context.Context, e *env, args []string, action string) error {
	f := newFlags(e, "dlq "+action, "arus dlq "+action+" NAME (--all | --record P/O | --error TEXT | --key KEY | --from TIME | --to TIME) [flags]", dlqAbout)
	all := f.Bool("all", false, action+" every pending record")
	name, flt, c, err := queueArgs(f, args)
	if err != nil {
		return err
	}
	switch {
	case *all && !flt.Empty():
		return f.fail("--all selects every pending record; leave out --record and the filters, or --all")
	case !*all && flt.Empty():
		return f.fail("say what to %s: --all, --record P/O, or a filter (--error, --key, --from, --to)", action)
	case len(flt.Positions) > 0 && (flt.Error != "" || flt.Key != "" || !flt.From.IsZero() || !flt.To.IsZero()):
		return f.fail("give --record or filters, not both")
	}
	tool, done, err := openDLQ(ctx, e, c)
	if err != nil {
		return err
	}
	defer done()
	do, verb := tool.Replay, "Replayed"
	if action == "discard" {
		do, verb = tool.Discard, "Discarded"
	}
	n, err := do(ctx, name, flt)
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, name, err)
	}
	if action == "replay" {
		fmt.Fprintf(e.stdout, "%s %d record(s) of %s to %s.\n", verb, n, name, dlq.RetryTopic(name))
	} else {
		fmt.Fprintf(e.stdout, "%s %d record(s) of %s.\n", verb, n, name)
	}
	return nil
}
