package web

import (
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
)

// An event's staff (work window, status, the staff QR code with its
// printable detail) and schedules; the schedules of every event; and the
// staff people with the original's role flags.

type tkStaffForm struct {
	Name, Email, WorkStarts, WorkEnds, Status string
}

type tkScheduleForm struct {
	Name, Starts, Ends, Approver, Status string
}

type tkEventStaffData struct {
	Event            ticketing.Event
	Staff            []ticketing.Staff
	Schedules        []ticketing.Schedule
	StaffStatuses    []string
	ScheduleStatuses []string
	StaffForm        tkStaffForm
	ScheduleForm     tkScheduleForm
	StaffErrors      map[string]string
	ScheduleErrors   map[string]string
}

func (h *Handler) tkEventStaff(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkEventStaffPage(w, r, sc, http.StatusOK, tkEventStaffData{StaffForm: tkStaffForm{Status: ticketing.StaffNone},
		ScheduleForm: tkScheduleForm{Status: ticketing.SchedulePlanned}})
}

func (h *Handler) tkEventStaffPage(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, status int, d tkEventStaffData) {
	ctx := r.Context()
	e, ok := h.pathEvent(w, r, sc, "id")
	if !ok {
		return
	}
	d.Event, d.StaffStatuses, d.ScheduleStatuses = e, ticketing.StaffStatuses, ticketing.ScheduleStatuses
	var err error
	if d.Staff, err = h.cfg.Ticketing.StaffOf(ctx, sc, e.ID); err != nil {
		h.tkFail(w, r, err)
		return
	}
	if d.Schedules, err = h.cfg.Ticketing.Schedules(ctx, sc, e.ID); err != nil {
		h.tkFail(w, r, err)
		return
	}
	h.render(w, r, status, "tk_event_staff", view{Data: d})
}

// staffInput reads a staff member's form in the event's time zone.
func staffInput(r *http.Request, tz string) (tkStaffForm, ticketing.StaffInput, map[string]string) {
	f := tkStaffForm{Name: strings.TrimSpace(r.PostFormValue("name")), Email: strings.TrimSpace(r.PostFormValue("email")),
		WorkStarts: r.PostFormValue("work_starts"), WorkEnds: r.PostFormValue("work_ends"), Status: r.PostFormValue("status")}
	in := ticketing.StaffInput{Name: f.Name, Email: f.Email, Status: f.Status}
	errs := map[string]string{}
	var err error
	if in.WorkStarts, err = formTime(r, "work_starts", tz); err != nil {
		errs["work_starts"] = err.Error()
	}
	if in.WorkEnds, err = formTime(r, "work_ends", tz); err != nil {
		errs["work_ends"] = err.Error()
	}
	return f, in, errs
}

func scheduleInput(r *http.Request, tz string) (tkScheduleForm, ticketing.ScheduleInput, map[string]string) {
	f := tkScheduleForm{Name: strings.TrimSpace(r.PostFormValue("name")), Starts: r.PostFormValue("starts"), Ends: r.PostFormValue("ends"),
		Approver: strings.TrimSpace(r.PostFormValue("approver")), Status: r.PostFormValue("status")}
	in := ticketing.ScheduleInput{Name: f.Name, Approver: f.Approver, Status: f.Status}
	errs := map[string]string{}
	var err error
	if in.Starts, err = formTime(r, "starts", tz); err != nil {
		errs["starts"] = err.Error()
	}
	if in.Ends, err = formTime(r, "ends", tz); err != nil {
		errs["ends"] = err.Error()
	}
	return f, in, errs
}

// staffChange reads the event of the path and runs a change of its staff
// or schedules; an input error shows the event's staff page again with the
// form as typed, through back.
func (h *Handler) staffChange(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, do func(e ticketing.Event) (map[string]string, error),
	back func(errs map[string]string), to string) {
	e, ok := h.pathEvent(w, r, sc, "id")
	if !ok {
		return
	}
	own, err := do(e)
	if fieldErrors(err) != nil || len(own) > 0 {
		back(mergeErrors(own, err))
		return
	}
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) tkAddStaff(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	var form tkStaffForm
	id := r.PathValue("id")
	h.staffChange(w, r, sc, func(e ticketing.Event) (map[string]string, error) {
		f, in, errs := staffInput(r, e.TimeZone)
		form = f
		_, err := h.cfg.Ticketing.AddStaff(r.Context(), sc, e.ID, in)
		return errs, err
	}, func(errs map[string]string) {
		h.tkEventStaffPage(w, r, sc, http.StatusUnprocessableEntity, tkEventStaffData{StaffForm: form, StaffErrors: errs,
			ScheduleForm: tkScheduleForm{Status: ticketing.SchedulePlanned}})
	}, "/ticketing/events/"+id+"/staff?ok=tk-created")
}

func (h *Handler) tkAddSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	var form tkScheduleForm
	id := r.PathValue("id")
	h.staffChange(w, r, sc, func(e ticketing.Event) (map[string]string, error) {
		f, in, errs := scheduleInput(r, e.TimeZone)
		form = f
		_, err := h.cfg.Ticketing.AddSchedule(r.Context(), sc, e.ID, in)
		return errs, err
	}, func(errs map[string]string) {
		h.tkEventStaffPage(w, r, sc, http.StatusUnprocessableEntity, tkEventStaffData{ScheduleForm: form, ScheduleErrors: errs,
			StaffForm: tkStaffForm{Status: ticketing.StaffNone}})
	}, "/ticketing/events/"+id+"/staff?ok=tk-created#schedules")
}

func (h *Handler) tkUpdateSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	id := r.PathValue("id")
	h.staffChange(w, r, sc, func(e ticketing.Event) (map[string]string, error) {
		_, in, errs := scheduleInput(r, e.TimeZone)
		_, err := h.cfg.Ticketing.UpdateSchedule(r.Context(), sc, e.ID, r.PathValue("schedule"), in)
		return errs, err
	}, func(errs map[string]string) {
		h.tkFail(w, r, formFields(errs))
	}, "/ticketing/events/"+id+"/staff?ok=tk-saved#schedules")
}

func (h *Handler) tkDeleteSchedule(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.eventAction(w, r, "/staff?ok=tk-deleted#schedules", func(id string) error {
		return h.cfg.Ticketing.DeleteSchedule(r.Context(), sc, id, r.PathValue("schedule"))
	})
}

// formFields carries a form's own field errors to tkFail as a 422, the
// fields in name order.
func formFields(errs map[string]string) error {
	fe := &invalid.Fields{Kind: ticketing.ErrInvalid}
	for _, name := range slices.Sorted(maps.Keys(errs)) {
		fe.Add(name, "%s", errs[name])
	}
	return fe
}

type tkStaffMemberData struct {
	Event         ticketing.Event
	Staff         ticketing.Staff
	QR            template.HTML
	Form          tkStaffForm
	Errors        map[string]string
	StaffStatuses []string
}

func (h *Handler) tkStaffMember(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkStaffMemberPage(w, r, sc, http.StatusOK, nil, nil)
}

func (h *Handler) tkStaffMemberPage(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, status int, form *tkStaffForm, errs map[string]string) {
	ctx := r.Context()
	e, ok := h.pathEvent(w, r, sc, "id")
	if !ok {
		return
	}
	s, err := h.cfg.Ticketing.StaffMember(ctx, sc, e.ID, r.PathValue("staff"))
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	qr, err := qrSVG(s.QRSecret, "QR code of staff member "+s.Name)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	local := ticketingFuncs["localInput"].(func(t time.Time, tz string) string)
	d := tkStaffMemberData{Event: e, Staff: s, QR: qr, Errors: errs, StaffStatuses: ticketing.StaffStatuses,
		Form: tkStaffForm{Name: s.Name, Email: s.Email, WorkStarts: local(s.WorkStarts, e.TimeZone), WorkEnds: local(s.WorkEnds, e.TimeZone), Status: s.Status}}
	if form != nil {
		d.Form = *form
	}
	h.render(w, r, status, "tk_staff_member", view{Data: d})
}

func (h *Handler) tkUpdateStaff(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	id, staff := r.PathValue("id"), r.PathValue("staff")
	var form tkStaffForm
	h.staffChange(w, r, sc, func(e ticketing.Event) (map[string]string, error) {
		f, in, errs := staffInput(r, e.TimeZone)
		form = f
		_, err := h.cfg.Ticketing.UpdateStaff(r.Context(), sc, e.ID, staff, in)
		return errs, err
	}, func(errs map[string]string) {
		h.tkStaffMemberPage(w, r, sc, http.StatusUnprocessableEntity, &form, errs)
	}, "/ticketing/events/"+id+"/staff/"+staff+"?ok=tk-saved")
}

func (h *Handler) tkDeleteStaff(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	id, staff := r.PathValue("id"), r.PathValue("staff")
	s, err := h.cfg.Ticketing.StaffMember(r.Context(), sc, id, staff)
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	if !h.confirmed(w, r, confirmData{Title: tkT(r, "tk.removestaff.title", s.Name), Action: "/ticketing/events/" + id + "/staff/" + staff + "/delete",
		Button: tkT(r, "tk.removestaff.button"), Cancel: "/ticketing/events/" + id + "/staff", Message: tkT(r, "tk.removestaff.msg", s.Name)}) {
		return
	}
	if err := h.cfg.Ticketing.DeleteStaff(r.Context(), sc, id, staff); err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/events/"+id+"/staff?ok=tk-deleted", http.StatusSeeOther)
}

// qrSVG draws text as a QR code in SVG: one path of dark modules on a
// white square with the quiet zone, scaled by CSS.
func qrSVG(text, label string) (template.HTML, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("web: qr code: %w", err)
	}
	bm := q.Bitmap()
	n := len(bm)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`,
		n, n, template.HTMLEscapeString(label), n, n)
	for y, row := range bm {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// tkSchedulesData is every schedule of the events in the scope.
type tkSchedulesData struct {
	All  bool // the scope covers every merchant
	Rows []tkScheduleRow
}

type tkScheduleRow struct {
	Event    ticketing.Event
	Schedule ticketing.Schedule
}

func (h *Handler) tkSchedules(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	ctx := r.Context()
	events, err := h.cfg.Ticketing.Events(ctx, sc, ticketing.EventFilter{})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d := tkSchedulesData{All: sc.All}
	for _, e := range events {
		ss, err := h.cfg.Ticketing.Schedules(ctx, sc, e.ID)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		for _, s := range ss {
			d.Rows = append(d.Rows, tkScheduleRow{Event: e, Schedule: s})
		}
	}
	h.render(w, r, http.StatusOK, "tk_schedules", view{Data: d})
}

// Staff people: the users holding a staff role, with the original's four
// flags. An admin sees all and sets the flags; a merchant's people see the
// members of their merchants.

type tkPerson struct {
	User  auth.User
	Flags auth.StaffFlags
}

type tkStaffData struct {
	All    bool // the scope covers every merchant
	People []tkPerson
}

func (h *Handler) tkStaff(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	ctx := r.Context()
	var members []string
	if !sc.All {
		for _, m := range sc.Merchants {
			ms, err := h.cfg.Ticketing.Members(ctx, m)
			if err != nil {
				h.serverError(w, r, err)
				return
			}
			members = append(members, ms...)
		}
	}
	d := tkStaffData{All: sc.All}
	seen := map[string]bool{}
	for _, role := range []auth.Role{auth.RoleCashier, auth.RoleMerchantAdmin, auth.RoleCoordinator, auth.RoleInternalStaff} {
		after := ""
		for {
			page, err := h.auth.ListUsers(ctx, auth.UserQuery{Role: role, After: after, Limit: 200})
			if err != nil {
				h.serverError(w, r, err)
				return
			}
			for _, u := range page.Users {
				if seen[u.ID] || (!sc.All && !slices.Contains(members, u.Username)) {
					continue
				}
				seen[u.ID] = true
				d.People = append(d.People, tkPerson{User: u, Flags: auth.StaffFlagsOf(u.Roles)})
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	slices.SortFunc(d.People, func(a, b tkPerson) int { return strings.Compare(a.User.Username, b.User.Username) })
	h.render(w, r, http.StatusOK, "tk_staff", view{Data: d})
}

// tkSetStaffFlags sets a user's four staff flags, keeping their other
// roles.
func (h *Handler) tkSetStaffFlags(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	ctx := r.Context()
	u, err := h.auth.User(ctx, r.PathValue("user"))
	if errors.Is(err, auth.ErrNotFound) {
		h.renderStatus(w, r, http.StatusNotFound, tkT(r, "tk.fail.notfound"), tkT(r, "tk.nouser"))
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	f := auth.StaffFlags{Cashier: r.PostFormValue("as_cashier") == "on", User: r.PostFormValue("as_user") == "on",
		Coordinator: r.PostFormValue("as_coordinator") == "on", Internal: r.PostFormValue("as_internal") == "on"}
	var roles []auth.Role
	staffRoles := []auth.Role{auth.RoleCashier, auth.RoleMerchantAdmin, auth.RoleCoordinator, auth.RoleInternalStaff}
	for _, role := range u.Roles {
		if !slices.Contains(staffRoles, role) {
			roles = append(roles, role)
		}
	}
	roles = append(roles, f.Roles()...)
	if len(roles) == 0 {
		h.renderStatus(w, r, http.StatusUnprocessableEntity, tkT(r, "tk.notsaved"), tkT(r, "tk.norole", u.Username))
		return
	}
	if _, err := h.auth.UpdateUser(ctx, u.ID, func(x *auth.User) error { x.Roles = roles; return nil }); err != nil {
		if fe := fieldErrors(err); fe != nil {
			h.tkFail(w, r, err)
			return
		}
		h.serverError(w, r, err)
		return
	}
	h.log.InfoContext(ctx, "console: staff flags set", "user", u.Username, "by", p.Name())
	http.Redirect(w, r, "/ticketing/staff?ok=tk-saved", http.StatusSeeOther)
}
