package mask

import (
	"errors"
	"strings"
	"testing"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

func TestRecordMasksFieldsKeepingTheRest(t *testing.T) {
	p := Policy{Topic: "payments", Fields: []Field{
		{Path: "card.number", Mode: Partial}, {Path: "email", Mode: Hide}, {Path: "items.owner", Mode: Hash},
		{Path: "@key", Mode: Partial}, {Path: "@header.x-phone", Mode: Hide}, {Path: "absent.field", Mode: Hide},
	}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	in := &stream.Record{Topic: "payments", Key: []byte("customer-1234"),
		Value:   []byte(`{"z":1,"email":"a@b.id","card":{"number":"4111111111114242","exp":"12/29"},"items":[{"owner":"ann","n":2},{"owner":"bob"}],"amount":150000}`),
		Headers: []stream.Header{{Key: "x-phone", Value: []byte("+62811")}, {Key: "trace", Value: []byte("t1")}}}
	orig := string(in.Value)
	out, masked := p.Record(in)
	if !masked {
		t.Fatal("nothing masked")
	}
	want := `{"z":1,"email":"•••","card":{"number":"••••••••••••4242","exp":"12/29"},"items":[{"owner":"` + apply(Hash, "ann") + `","n":2},{"owner":"` + apply(Hash, "bob") + `"}],"amount":150000}`
	if string(out.Value) != want {
		t.Errorf("value\n got %s\nwant %s", out.Value, want)
	}
	if string(out.Key) != "•••••••••1234" {
		t.Errorf("key %q", out.Key)
	}
	if string(out.Headers[0].Value) != Hidden || string(out.Headers[1].Value) != "t1" {
		t.Errorf("headers %q", out.Headers)
	}
	if string(in.Value) != orig || string(in.Key) != "customer-1234" || string(in.Headers[0].Value) != "+62811" {
		t.Error("the original record was changed")
	}
	if apply(Hash, "ann") == apply(Hash, "bob") || !strings.HasPrefix(apply(Hash, "ann"), "sha256:") {
		t.Error("hashes do not tell values apart")
	}
}

func TestRecordLeavesWhatNoFieldMatches(t *testing.T) {
	p := Policy{Topic: "t", Fields: []Field{{Path: "email", Mode: Hide}}}
	for _, v := range []string{`not json`, `"a string"`, `{"name":"x"}`, `[1,2]`, `{"email":`, `{} {}`, ``} {
		r := &stream.Record{Value: []byte(v)}
		if out, masked := p.Record(r); masked || string(out.Value) != v {
			t.Errorf("%q: masked %v to %q, want it untouched", v, masked, out.Value)
		}
	}
	whole := Policy{Topic: "t", Fields: []Field{{Path: "@value", Mode: Hide}, {Path: "email", Mode: Partial}}}
	if out, _ := whole.Record(&stream.Record{Value: []byte(`{"email":"someone@example.com"}`)}); string(out.Value) != Hidden {
		t.Errorf("@value: %q", out.Value)
	}
	tomb := Policy{Topic: "t", Fields: []Field{{Path: "@value", Mode: Hide}, {Path: "@key", Mode: Hide}}}
	if out, masked := tomb.Record(&stream.Record{}); masked || out.Value != nil || out.Key != nil {
		t.Errorf("a null key and value stay null: %v %q %q", masked, out.Key, out.Value)
	}
}

func TestValidateNamesEachBadField(t *testing.T) {
	p := Policy{Topic: "", Fields: []Field{{Path: "", Mode: Hide}, {Path: "a..b", Mode: Hide}, {Path: "@nope", Mode: Hide},
		{Path: "x", Mode: "blur"}, {Path: "y", Mode: Hide}, {Path: "y", Mode: Partial}, {Path: "@header.", Mode: Hide}}}
	err := p.Validate()
	var fe *invalid.Fields
	if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("%v", err)
	}
	var names []string
	for _, f := range fe.List {
		names = append(names, f.Name)
	}
	want := "topic fields[0].path fields[1].path fields[2].path fields[3].mode fields[5].path fields[6].path"
	if strings.Join(names, " ") != want {
		t.Errorf("fields %q, want %q (%v)", names, want, err)
	}
	if err := (Policy{Topic: "t"}).Validate(); err == nil {
		t.Error("a policy without fields was accepted")
	}
}

func FuzzMaskJSON(f *testing.F) {
	f.Add(`{"a":{"b":"c"},"d":[{"b":1}]}`)
	f.Add(`[{"a":"x"}]`)
	f.Fuzz(func(t *testing.T, v string) {
		p := Policy{Topic: "t", Fields: []Field{{Path: "a.b", Mode: Partial}, {Path: "d.b", Mode: Hide}}}
		out, masked := p.Record(&stream.Record{Value: []byte(v)})
		if !masked && string(out.Value) != v {
			t.Fatalf("unmasked value changed: %q → %q", v, out.Value)
		}
		if masked && strings.Contains(string(out.Value), `"b":"c"`) {
			t.Fatalf("a masked field shows: %q", out.Value)
		}
	})
}
