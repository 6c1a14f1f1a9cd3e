package web

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
)

// The ticketing, payment and gate services refuse an action with a
// stable code (an *invalid.Refusal; the API sends it as a problem's code
// and args, docs/api.md), and so do the ticketing, payment and gate APIs
// for the errors of their own (a bad query parameter, an unknown id, a
// revoked device, too many joins, a bad provider signature). The pages show a refusal in their language from
// refusalText, refusal.<code>: Indonesian, English, each filled with the
// refusal's values in order (%[n]s picks one). The scanner's script gets
// these texts too and fills them the same way.
var refusalText = map[string][2]string{
	// ticketing
	"refusal.event_areas_fixed":      {"Acara %s berstatus %s; area hanya dapat diubah sebelum acara disetujui.", "Event %s is %s; areas change only before approval."},
	"refusal.event_going_live":       {"Acara %s sedang disiapkan untuk dijual.", "Event %s is going live already."},
	"refusal.event_not_approved":     {"Acara %s berstatus %s; hanya acara yang disetujui yang dapat mulai dijual.", "Event %s is %s; only an approved event goes on sale."},
	"refusal.event_not_deletable":    {"Acara %s berstatus %s; hanya draf yang dapat dihapus (batalkan acaranya sebagai gantinya).", "Event %s is %s; only a draft can be deleted (cancel it instead)."},
	"refusal.event_not_editable":     {"Acara %s berstatus %s; hanya draf atau acara yang menunggu persetujuan yang dapat diubah.", "Event %s is %s; only a draft or an event waiting for approval can be edited."},
	"refusal.event_not_in_state":     {"Acara %s tidak berstatus %s.", "Event %s is not %s."},
	"refusal.event_not_on_sale":      {"Acara %s berstatus %s, tidak sedang dijual.", "Event %s is %s, not on sale."},
	"refusal.event_not_waiting":      {"Acara %s tidak sedang menunggu persetujuan.", "Event %s is not waiting for approval."},
	"refusal.event_without_areas":    {"Acara %s belum punya area.", "Event %s has no areas."},
	"refusal.idempotency_key_reused": {"Kunci idempotensi %s sudah dipakai untuk pesanan %s dengan rincian lain.", "Idempotency key %s was used for order %s with other lines."},
	"refusal.merchant_has_events":    {"Merchant %s masih punya %s acara, jadi tidak dapat dihapus.", "Merchant %s still has %s event(s), so it cannot be deleted."},
	"refusal.order_not_paid":         {"Pesanan %s berstatus %s; hanya pesanan yang sudah dibayar yang dapat dikembalikan dananya.", "Order %s is %s; only a paid order can be refunded."},
	"refusal.order_not_pending":      {"Pesanan %s berstatus %s; hanya pesanan yang menunggu pembayaran yang dapat dibatalkan (kembalikan dana pesanan yang sudah dibayar).", "Order %s is %s; only a pending order can be canceled (refund a paid one)."},
	"refusal.payment_method_exists":  {"Metode pembayaran %s sudah ada.", "Payment method %s exists already."},
	"refusal.refund_decided":         {"Pengembalian dana %s sudah diputuskan sementara itu.", "Refund %s was decided meanwhile."},
	"refusal.refund_not_requested":   {"Pengembalian dana %s berstatus %s, tidak lagi menunggu keputusan.", "Refund %s is %s, not requested."},
	"refusal.refund_ticket_invalid":  {"Tiket %s pada pengembalian dana %s tidak sah lagi.", "Ticket %s of refund %s is no longer valid."},
	"refusal.sale_ended":             {"Penjualan acara %s sudah berakhir %s.", "The sale of event %s ended at %s."},
	"refusal.sale_not_started":       {"Penjualan acara %s baru dimulai %s.", "The sale of event %s starts at %s."},
	"refusal.sold_out":               {"Tiket area %[1]s tidak cukup lagi.", "Area %[1]s has too few tickets left."},
	"refusal.waitroom_event_over":    {"Acara %s berstatus %s; ruang tunggunya tidak dapat diatur lagi.", "Event %s is %s; its waiting room can no longer be set."},
	"refusal.waitroom_not_open":      {"Acara %s tidak sedang atau akan segera dijual.", "Event %s is not about to go or on sale."},
	"refusal.waitroom_off":           {"Ruang tunggu acara %s tidak aktif; pesan langsung.", "The waiting room of event %s is off; order directly."},
	// ticketing: unknown ids (order_unknown is below, with the gate's)
	"refusal.area_unknown":           {"Acara %[2]s tidak punya area %[1]s.", "Event %[2]s has no area %[1]s."},
	"refusal.event_unknown":          {"Tidak ada acara %s.", "No event %s."},
	"refusal.merchant_unknown":       {"Tidak ada merchant %s.", "No merchant %s."},
	"refusal.payment_method_unknown": {"Tidak ada metode pembayaran %s.", "No payment method %s."},
	"refusal.refund_unknown":         {"Tidak ada pengembalian dana %s.", "No refund %s."},
	"refusal.schedule_unknown":       {"Acara %[2]s tidak punya jadwal %[1]s.", "Event %[2]s has no schedule %[1]s."},
	"refusal.staff_unknown":          {"Acara %[2]s tidak punya staf %[1]s.", "Event %[2]s has no staff member %[1]s."},
	// payment
	"refusal.hold_ran_out":            {"Masa tahan pesanan %s habis pada %s, jadi tiketnya tidak lagi ditahan; jangan terima uang untuknya.", "The hold of order %s ran out at %s, so its tickets are no longer held; take no cash for it."},
	"refusal.intent_not_cash":         {"Pembayaran %s memakai %s, bukan tunai.", "Payment %s is paid %s, not in cash."},
	"refusal.intent_not_online":       {"Pembayaran %s memakai %s, bukan online.", "Payment %s is paid %s, not online."},
	"refusal.intent_not_requested":    {"Pembayaran %s berstatus %s; hanya pembayaran yang diminta yang dapat diterima tunai.", "Payment %s is %s; only a requested payment takes cash."},
	"refusal.refund_not_pending":      {"Pengembalian dana %s berstatus %s; hanya pengembalian yang tertunda yang dibayarkan.", "Refund %s is %s; only a pending refund is paid out."},
	"refusal.intent_unknown":          {"Tidak ada pembayaran %s.", "No payment %s."},
	"refusal.order_intent_unknown":    {"Tidak ada pembayaran untuk pesanan nomor %s.", "No payment for order number %s."},
	"refusal.virtual_account_unknown": {"Tidak ada pembayaran dengan virtual account %s.", "No payment with virtual account %s."},
	// notifications
	"refusal.message_unknown": {"Tidak ada pesan %s.", "No message %s."},
	// gate
	"refusal.device_other_event":        {"Perangkat ini milik acara %s.", "The device belongs to event %s."},
	"refusal.device_other_gate":         {"Perangkat ini memindai di gerbang %s.", "The device scans at gate %s."},
	"refusal.device_unknown":            {"Perangkat itu tidak ada.", "There is no such device."},
	"refusal.gate_server_dropped":       {"Server kontrol akses acara %s sudah dihapus.", "The access-control server of event %s was dropped."},
	"refusal.gate_unknown":              {"Acara %s tidak punya gerbang %s.", "Event %s has no gate %s."},
	"refusal.key_not_device":            {"Kunci API hanya memindai sebagai perangkat terdaftar acara ini, atau dengan gate.manage untuk acara ini.", "An API key scans only as an enrolled device of this event, or with gate.manage for it."},
	"refusal.list_unknown":              {"Acara %s tidak punya daftar %s.", "Event %s has no list %s."},
	"refusal.no_gate_server":            {"Gerbang tidak punya server kontrol akses untuk acara %s.", "The gate has no access-control server for event %s."},
	"refusal.no_signing_key":            {"Acara %s tidak punya kunci tanda tangan.", "Event %s has no signing key."},
	"refusal.order_unknown":             {"Tidak ada pesanan %s.", "No order %s."},
	"refusal.override_needs_supervisor": {"Meloloskan penolakan memerlukan gate.override (supervisor).", "Overriding a refusal needs gate.override (a supervisor)."},
	"refusal.pass_unknown":              {"Acara %s tidak punya pas %s.", "Event %s has no pass %s."},
	"refusal.rebuild_all_needs_admin":   {"Membangun ulang daftar akses semua acara memerlukan acara semua merchant (ticketing.admin); bangun ulang acara Anda satu per satu.", "Rebuilding every event's access list needs every merchant's events (ticketing.admin); rebuild your events one by one."},
	// the gate API's own (its input, its devices)
	"refusal.device_revoked":         {"Perangkat ini sudah dicabut.", "The device was revoked."},
	"refusal.enrolment_code_length":  {"Kode pendaftaran terdiri dari 1 sampai 64 karakter.", "An enrolment code is 1 to 64 characters."},
	"refusal.enrolment_code_unknown": {"Kode ini tidak dikenal, sudah dipakai atau kedaluwarsa: minta kode baru kepada operator.", "This code is unknown, already used or expired: ask an operator for a new one."},
	"refusal.enrolment_ttl":          {"Kode pendaftaran berlaku 0 sampai 2.592.000 detik (30 hari).", "An enrolment code lasts 0 to 2,592,000 seconds (30 days)."},
	"refusal.key_id_invalid":         {"%s bukan id kunci, 1 sampai 65535.", "%s is not a key id, 1 to 65535."},
	"refusal.query_not_boolean":      {"Parameter kueri %s harus true atau false.", "Query parameter %s must be true or false."},
	"refusal.query_not_number":       {"Parameter kueri %s harus bilangan bulat.", "Query parameter %s must be a whole number."},
	"refusal.reason_length":          {"Alasan harus 1 sampai 500 byte.", "The reason must be 1 to 500 bytes."},
	"refusal.time_invalid":           {"%s bukan waktu RFC 3339.", "%s is not an RFC 3339 time."},
	"refusal.upload_size":            {"Satu unggahan berisi 1 sampai %s pindaian.", "An upload holds 1 to %s scans."},
	// the ticketing API's own (its paths, queries and limits); query_unknown
	// is the gate API's too
	"refusal.area_busy":                {"Area ini sedang ditulis oleh banyak proses sekaligus; coba lagi.", "The area is being written by many processes at once; try again."},
	"refusal.id_unknown":               {"Tidak ada data dengan id %s.", "Nothing has the id %s."},
	"refusal.members_required":         {"Username anggota wajib diisi (daftar kosong menghapus semua anggota).", "The members' usernames are required (an empty list removes every member)."},
	"refusal.period_reversed":          {"Akhir periode (to) sebelum awalnya (from).", "The period's end (to) is before its start (from)."},
	"refusal.period_too_long":          {"Periode paling lama tiga tahun.", "The period is at most three years."},
	"refusal.query_not_date":           {"Parameter kueri %s: %s bukan tanggal YYYY-MM-DD.", "Query parameter %s: %s is not a date YYYY-MM-DD."},
	"refusal.query_not_in_range":       {"Parameter kueri %s: %s bukan bilangan bulat dari %s sampai %s.", "Query parameter %s: %s is not a whole number from %s to %s."},
	"refusal.query_not_one_of":         {"Parameter kueri %s: %s bukan salah satu dari %s.", "Query parameter %s: %s is not one of %s."},
	"refusal.query_unknown":            {"Parameter kueri tidak dikenal: %s.", "Unknown query parameter: %s."},
	"refusal.too_many_joins":           {"Alamat ini sudah %s kali masuk ruang tunggu menit ini; coba lagi dalam %s detik.", "This address joined the waiting room %s times this minute; try again in %s s."},
	"refusal.waitroom_ticket_required": {"Tiket yang diberikan saat masuk ruang tunggu wajib diisi.", "The ticket that joining the waiting room answered is required."},
	// the payment API's own (its input and the provider's callback);
	// query_unknown, query_not_one_of and query_not_in_range are the
	// ticketing API's too
	"refusal.body_too_large":          {"Isi permintaan melebihi batas %s byte.", "The request body is larger than the limit of %s bytes."},
	"refusal.cash_received_required":  {"Uang yang diterima wajib diisi, dalam rupiah dan lebih dari nol.", "The cash received is required, a positive number of rupiah."},
	"refusal.idempotency_key_invalid": {"Header Idempotency-Key harus 1 sampai 255 karakter ASCII yang tercetak, tanpa spasi.", "The Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces."},
	"refusal.query_repeated":          {"Parameter kueri %s diberikan lebih dari sekali.", "Query parameter %s is given more than once."},
	"refusal.query_too_long":          {"Parameter kueri %s lebih dari %s karakter.", "Query parameter %s is longer than %s characters."},
	"refusal.signature_invalid":       {"Tanda tangan penyedia pembayaran tidak ada, salah atau kedaluwarsa.", "The payment provider's signature is missing, wrong or stale."},
	// the word joining states ("draft or approved")
	"refusal.or": {" atau ", " or "},
}

// refusalMsg is err's reason in lang: the text of its refusal's code with
// the refusal's values in lang, else the service's own words (tkReason).
func refusalMsg(lang string, err error) string {
	var rf *invalid.Refusal
	if !errors.As(err, &rf) {
		return tkReason(err)
	}
	if _, ok := refusalText["refusal."+rf.Code]; !ok {
		return tkReason(err)
	}
	args := make([]any, len(rf.Args))
	for i, a := range rf.Args {
		args[i] = refusalArg(lang, fmt.Sprint(a))
	}
	return translate(lang, "refusal."+rf.Code, args...)
}

// refusalArg writes a refusal's value in lang: a state, or states joined
// by " or ", by its name; a time (RFC 3339) as the pages write times, in
// Asia/Jakarta; a whole number with the language's separators; anything
// else (ids, names) as it is.
func refusalArg(lang, v string) string {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return formatWhen(lang, t, ticketing.DefaultTimeZone)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return localNum(lang, formatNum(n))
	}
	if v == "" {
		return v
	}
	states := strings.Split(v, " or ")
	for i, s := range states {
		if _, ok := tkText["tk.status."+s]; !ok {
			return v
		}
		states[i] = translate(lang, "tk.status."+s)
	}
	return strings.Join(states, translate(lang, "refusal.or"))
}
