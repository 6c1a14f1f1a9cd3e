package gate_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// issueTo issues one ga ticket of an order with its number and buyer.
func issueTo(t testing.TB, s *gate.Service, order, number, name, ticket string) string {
	t.Helper()
	return issueToEmail(t, s, order, number, name, "buyer@example.com", ticket)
}

// issueToEmail issues one ga ticket of an order with its number and its
// buyer's name and e-mail address.
func issueToEmail(t testing.TB, s *gate.Service, order, number, name, email, ticket string) string {
	t.Helper()
	a, err := s.IssueTickets(context.Background(), messages.TicketsIssued{Type: messages.TypeTicketsIssued, OrderID: order, Number: number,
		EventID: "ev1", Buyer: messages.Buyer{Name: name, Email: email}, Starts: t0, Ends: t0.Add(5 * time.Hour), At: t0,
		Tickets: []messages.Ticket{{TicketID: ticket, AreaID: "ga", Code: "secret"}}})
	if err != nil {
		t.Fatalf("issue %s: %v", ticket, err)
	}
	return a.Passes[0].QR
}

func searchIDs(t testing.TB, s *gate.Service, q string) []string {
	t.Helper()
	found, err := s.Search(context.Background(), "ev1", q, 100)
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	ids := []string{}
	for _, f := range found {
		ids = append(ids, f.PassID)
	}
	return ids
}

// A search finds a pass by the start of its id, of its order's number, or
// of a word of its buyer's name, ignoring case; each pass found carries
// its order number and buyer's name, which a rebuild keeps.
func TestSearchByIDNumberAndName(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		s := openService(t, base)
		qr := issueTo(t, s, "o1", "ARU-2603-0001", "Budi Santoso", "t1")
		issueTo(t, s, "o2", "ARU-2603-0002", "  Siti   Rahayu ", "t2")
		issueTo(t, s, "o3", "ARU-2604-0100", "Sánchez O'Brien_x", "t3")
		issue(t, s, "o4", "vip", 1) // no number, no name: issued as before
		if _, err := s.AssignStaff(ctx, "ev1", "budi-staff", "ga", t0, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		want := func(when string) {
			t.Helper()
			for _, tc := range []struct {
				q    string
				want []string
			}{
				{"t", []string{"t1", "t2", "t3"}},
				{"o4-", []string{"o4-t0"}},
				{"budi", []string{"budi-staff", "t1"}},
				{"BUDI", []string{"t1"}},
				{"sant", []string{"t1"}},
				{"antoso", []string{}},
				{"budi santoso", []string{"t1"}},
				{" siti  rahayu", []string{"t2"}},
				{"rahayu", []string{"t2"}},
				{"aru-2603", []string{"t1", "t2"}},
				{"ARU-2604-0100", []string{"t3"}},
				{"2603", []string{}},
				{"sánchez", []string{"t3"}},
				{"o'brien_", []string{"t3"}},
				{"%", []string{}},
				{"_", []string{}},
				{"o_brien", []string{}},
			} {
				if got := searchIDs(t, s, tc.q); !slices.Equal(got, tc.want) {
					t.Errorf("%s: search %q found %v, want %v", when, tc.q, got, tc.want)
				}
			}
			found, err := s.Search(ctx, "ev1", "budi", 10)
			if err != nil {
				t.Fatal(err)
			}
			wantFound := []gate.Found{
				{BundlePass: gate.BundlePass{PassID: "budi-staff", Kind: "staff", AreaID: "ga", Status: gate.StatusValid}},
				{BundlePass: gate.BundlePass{PassID: "t1", Kind: "ticket", AreaID: "ga", Status: gate.StatusValid, Inside: true}, OrderNumber: "ARU-2603-0001", BuyerName: "Budi Santoso"},
			}
			if !slices.Equal(found, wantFound) {
				t.Errorf("%s: search budi found %+v, want %+v", when, found, wantFound)
			}
			if f, err := s.Search(ctx, "ev1", "siti", 1); err != nil || len(f) != 1 || f[0].BuyerName != "Siti Rahayu" {
				t.Errorf("%s: search siti found %+v, %v, want Siti Rahayu with her spaces tidied", when, f, err)
			}
		}
		redeem(t, s, gate.Redeem{Secret: qr}) // search brings the access list up to date: t1 is inside
		want("as issued")
		if _, err := s.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		want("after a rebuild")
		if _, err := s.RebuildEvent(ctx, "ev1"); err != nil {
			t.Fatal(err)
		}
		want("after the event's rebuild")

		for _, tc := range []struct {
			q     string
			limit int
			field string
		}{
			{"t", 0, "limit"},
			{"t", 101, "limit"},
			{string(make([]byte, gate.MaxSearchLength+1)), 10, "q"},
		} {
			_, err := s.Search(ctx, "ev1", tc.q, tc.limit)
			var fe *invalid.Fields
			if !errors.As(err, &fe) || len(fe.List) != 1 || fe.List[0].Name != tc.field {
				t.Errorf("search limit %d: %v, want a field error on %s", tc.limit, err, tc.field)
			}
		}
		if got, err := s.Search(ctx, "ev1", "aru", 1); err != nil || len(got) != 1 || got[0].PassID != "t1" {
			t.Errorf("search aru with limit 1: %+v, %v", got, err)
		}
	})
}

// A staff pass is found by a word of its staff member's name, which comes
// with it; a buyer or a staff member by their whole e-mail address in any
// letter case, which never comes with a pass found nor goes in the
// bundle. A rebuild keeps both; a renewal carries the latest.
func TestSearchByStaffNameAndEmail(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		s := openService(t, base)
		issueToEmail(t, s, "o1", "ARU-2603-0001", "Budi Santoso", "Budi.Santoso@Example.COM", "t1")
		issueToEmail(t, s, "o2", "ARU-2603-0002", "Siti Rahayu", "siti@example.com", "t2")
		long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 60) + ".example.com" // longer than a pass id
		issueToEmail(t, s, "o3", "ARU-2603-0003", "Ayu Lestari", long, "t3")
		issue(t, s, "o4", "ga", 1) // no number, name nor e-mail: issued as before
		staff := messages.StaffChanged{Type: messages.TypeStaffAssigned, EventID: "ev1", StaffID: "stf1", Name: "  Rina   Wulandari ",
			Email: "Rina@Crew.Example", WorkStarts: t0, WorkEnds: t0.Add(6 * time.Hour), At: t0}
		if _, err := s.ChangeStaff(ctx, staff); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AssignStaff(ctx, "ev1", "stf0", "ga", t0, t0.Add(time.Hour)); err != nil { // no name nor e-mail
			t.Fatal(err)
		}
		cases := []struct {
			q    string
			want []string
		}{
			{"rina", []string{"stf1"}},
			{"WULAN", []string{"stf1"}},
			{"rina wulandari", []string{"stf1"}},
			{"rina@crew.example", []string{"stf1"}},
			{"RINA@CREW.EXAMPLE", []string{"stf1"}},
			{"budi.santoso@example.com", []string{"t1"}},
			{"BUDI.SANTOSO@EXAMPLE.COM", []string{"t1"}},
			{" Budi.Santoso@example.Com ", []string{"t1"}},
			{strings.ToUpper(long), []string{"t3"}},
			{"budi.santoso@", []string{}},
			{"budi.santoso@example", []string{}},
			{"example.com", []string{}},
			{"@", []string{}},
			{"rina@crew.example.org", []string{}},
		}
		want := func(when string) {
			t.Helper()
			for _, tc := range cases {
				if got := searchIDs(t, s, tc.q); !slices.Equal(got, tc.want) {
					t.Errorf("%s: search %q found %v, want %v", when, tc.q, got, tc.want)
				}
			}
			found, err := s.Search(ctx, "ev1", "RINA@crew.example", 10)
			if err != nil {
				t.Fatal(err)
			}
			wantFound := []gate.Found{{BundlePass: gate.BundlePass{PassID: "stf1", Kind: "staff", AreaID: gate.AllAreas, Status: gate.StatusValid}, StaffName: "Rina Wulandari"}}
			if !slices.Equal(found, wantFound) {
				t.Errorf("%s: search by e-mail found %+v, want %+v", when, found, wantFound)
			}
			found, err = s.Search(ctx, "ev1", "budi.santoso@example.com", 10)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(found)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(strings.ToLower(string(b)), "@example.com") || !strings.Contains(string(b), `"buyer_name":"Budi Santoso"`) {
				t.Errorf("%s: search by e-mail answered %s, want the buyer's name without an e-mail address", when, b)
			}
			bundle, err := s.Bundle(ctx, "ev1", true)
			if err != nil {
				t.Fatal(err)
			}
			if b, err = json.Marshal(bundle); err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"@", "Budi", "Rina", "Wulandari", "ARU-2603"} {
				if strings.Contains(string(b), secret) {
					t.Errorf("%s: the bundle carries %q: %s", when, secret, b)
				}
			}
			if len(bundle.Passes) != 6 {
				t.Errorf("%s: the bundle has %d passes, want 6", when, len(bundle.Passes))
			}
		}
		want("as issued")
		if _, err := s.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		want("after a rebuild")

		// An edit renames the staff member and changes their address; a
		// change that names neither keeps them.
		staff.Name, staff.Email, staff.At = "Rina Putri", "rina.putri@crew.example", t0.Add(time.Minute)
		if _, err := s.ChangeStaff(ctx, staff); err != nil {
			t.Fatal(err)
		}
		staff.Name, staff.Email, staff.At = "", "", t0.Add(2*time.Minute)
		if _, err := s.ChangeStaff(ctx, staff); err != nil {
			t.Fatal(err)
		}
		cases = []struct {
			q    string
			want []string
		}{
			{"putri", []string{"stf1"}},
			{"wulandari", []string{}},
			{"rina@crew.example", []string{}},
			{"Rina.Putri@crew.example", []string{"stf1"}},
		}
		for _, when := range []string{"renamed", "renamed, after the event's rebuild"} {
			for _, tc := range cases {
				if got := searchIDs(t, s, tc.q); !slices.Equal(got, tc.want) {
					t.Errorf("%s: search %q found %v, want %v", when, tc.q, got, tc.want)
				}
			}
			if _, err := s.RebuildEvent(ctx, "ev1"); err != nil {
				t.Fatal(err)
			}
		}
	})
}
