package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// The storefront speaks Indonesian, its first audience's language, and
// English. The browser's Accept-Language picks one; the switch on every
// page keeps the choice in a cookie.
const langCookie = "arus_shop_lang"

var shopLangs = language.NewMatcher([]language.Tag{language.Indonesian, language.English})

// lang is the request's language: the cookie's, else the best match of
// Accept-Language, else Indonesian.
func (s *shop) lang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "id" || c.Value == "en") {
		return c.Value
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return "id"
	}
	_, i, conf := shopLangs.Match(tags...)
	if conf == language.No || i == 0 {
		return "id"
	}
	return "en"
}

// setLang keeps the language chosen and goes back to the page.
func (s *shop) setLang(w http.ResponseWriter, r *http.Request) {
	l := r.URL.Query().Get("l")
	if l != "id" && l != "en" {
		l = "id"
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/shop", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: s.h.secure(r), SameSite: http.SameSiteLaxMode})
	next := localPath(r.URL.Query().Get("next"))
	if !strings.HasPrefix(next, "/shop/") {
		next = "/shop/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// translate returns the text of key in lang, formatted with args.
func translate(lang, key string, args ...any) string {
	m, ok := shopText[key]
	if !ok {
		return key
	}
	text := m[0]
	if lang == "en" {
		text = m[1]
	}
	if len(args) > 0 && strings.Contains(text, "%") {
		return fmt.Sprintf(text, args...)
	}
	return text
}

// rupiah writes whole rupiah as "Rp 150.000".
func rupiah(n int64) string {
	return "Rp " + strings.ReplaceAll(formatNum(n), ",", ".")
}

var idMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"}

// zoned is t in the IANA zone, or in UTC when the zone is unknown.
func zoned(t time.Time, zone string) time.Time {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		loc, _ = time.LoadLocation("Asia/Jakarta")
		if loc == nil {
			loc = time.UTC
		}
	}
	return t.In(loc)
}

// when writes "18 Mar 2026 18:20 WIB" (Indonesian month names in id).
func when(lang string, t time.Time, zone string) string {
	t = zoned(t, zone)
	month := t.Format("Jan")
	if lang != "en" {
		month = idMonths[t.Month()-1]
	}
	return strconv.Itoa(t.Day()) + " " + month + " " + t.Format("2006 15:04 MST")
}

// clock writes the time of day: "18:20 WIB".
func clock(t time.Time, zone string) string { return zoned(t, zone).Format("15:04 MST") }

// shopText holds every string of the storefront: Indonesian, English.
var shopText = map[string][2]string{
	"shop":              {"Tiket", "Tickets"},
	"lang.switch":       {"English", "Bahasa Indonesia"},
	"lang.switch.label": {"Ganti bahasa ke English", "Switch the language to Bahasa Indonesia"},
	"nav.events":        {"Acara", "Events"},
	"nav.my":            {"Pesanan saya", "My orders"},
	"nav.login":         {"Masuk", "Sign in"},
	"nav.logout":        {"Keluar", "Sign out"},
	"nav.label":         {"Navigasi toko", "Shop navigation"},

	"events.title":   {"Acara yang sedang dijual", "Events on sale"},
	"events.lede":    {"Pilih acara untuk melihat area dan harga tiket.", "Pick an event to see its areas and ticket prices."},
	"events.empty":   {"Belum ada acara yang dijual. Silakan kembali lagi nanti.", "No event is on sale right now. Please come back later."},
	"events.from":    {"Mulai %s", "From %s"},
	"event.when":     {"Waktu", "When"},
	"event.where":    {"Tempat", "Where"},
	"event.sale":     {"Penjualan sampai", "On sale until"},
	"event.areas":    {"Pilih area dan jumlah tiket", "Choose an area and the number of tickets"},
	"event.area":     {"Area", "Area"},
	"event.price":    {"Harga", "Price"},
	"event.free":     {"%d tersisa", "%d left"},
	"event.soldout":  {"Habis", "Sold out"},
	"event.quantity": {"Jumlah tiket", "Number of tickets"},
	"event.continue": {"Lanjut ke pembayaran", "Continue to checkout"},
	"event.closed":   {"Penjualan tiket acara ini sudah ditutup.", "The ticket sale of this event has closed."},

	"checkout.title":    {"Data pemesan", "Your details"},
	"checkout.lede":     {"Tiket dikirim ke e-mail ini. Tidak perlu akun.", "The tickets are sent to this e-mail address. No account needed."},
	"checkout.summary":  {"%d × %s, %s", "%d × %s, %s"},
	"checkout.total":    {"Total", "Total"},
	"checkout.name":     {"Nama lengkap", "Full name"},
	"checkout.email":    {"E-mail", "E-mail"},
	"checkout.phone":    {"Nomor telepon (opsional)", "Phone number (optional)"},
	"checkout.lang":     {"Bahasa e-mail", "Language of the e-mails"},
	"checkout.method":   {"Cara bayar", "How to pay"},
	"method.CASH":       {"Tunai di loket", "Cash at a counter"},
	"method.ONLINE":     {"Transfer / QR (online)", "Transfer / QR (online)"},
	"checkout.hold":     {"Tiket Anda ditahan selama %d menit setelah pesanan dibuat. Jika belum dibayar saat itu, tiket dilepas untuk pembeli lain.", "Your tickets are held for %d minutes once the order is placed. If it is not paid by then, they go back on sale."},
	"checkout.submit":   {"Pesan dan tahan tiket", "Place order and hold tickets"},
	"checkout.errors":   {"Periksa isian yang ditandai.", "Please check the marked fields."},
	"checkout.signedin": {"Masuk sebagai %s; pesanan ini masuk ke Pesanan saya.", "Signed in as %s; this order goes to My orders."},

	"field.buyer.name":  {"Nama wajib diisi (maks. 100 karakter).", "Enter your name (up to 100 characters)."},
	"field.buyer.email": {"Masukkan alamat e-mail yang valid, mis. nama@contoh.id.", "Enter a valid e-mail address, such as name@example.com."},
	"field.buyer.phone": {"Nomor telepon maks. 30 karakter.", "The phone number has at most 30 characters."},
	"field.buyer.lang":  {"Pilih bahasa.", "Choose a language."},
	"field.method":      {"Pilih cara bayar.", "Choose how to pay."},
	"field.quantity":    {"Pilih 1 sampai %d tiket.", "Choose 1 to %d tickets."},
	"field.area":        {"Pilih area.", "Choose an area."},
	"soldout":           {"Tiket di area ini tidak cukup lagi. Pilih jumlah lain atau area lain.", "There are not enough tickets left in this area. Choose fewer or another area."},
	"notonsale":         {"Acara ini tidak sedang dijual.", "This event is not on sale."},

	"order.title":               {"Pesanan %s", "Order %s"},
	"order.number":              {"Nomor pesanan", "Order number"},
	"order.status":              {"Status", "Status"},
	"status.pending":            {"Menunggu pembayaran", "Waiting for payment"},
	"status.validated":          {"Lunas", "Paid"},
	"status.expired":            {"Kedaluwarsa", "Expired"},
	"status.canceled":           {"Dibatalkan", "Canceled"},
	"status.partially_refunded": {"Sebagian dikembalikan", "Partly refunded"},
	"status.refunded":           {"Dikembalikan", "Refunded"},
	"order.payby":               {"Bayar sebelum %s", "Pay by %s"},
	"order.countdown":           {"Sisa waktu", "Time left"},
	"order.holdend":             {"Jika belum dibayar pada %s, tiket dilepas dan pesanan kedaluwarsa.", "If it is not paid by %s, the tickets are released and the order expires."},
	"order.link":                {"Simpan tautan halaman ini: hanya dengan tautan ini pesanan Anda dapat dibuka.", "Keep the link of this page: it is the only way to open your order."},
	"order.cash.title":          {"Bayar tunai di loket", "Pay cash at a counter"},
	"order.cash.steps":          {"Sebutkan nomor pesanan %s kepada kasir dan bayar %s sebelum %s. Tiket dikirim ke e-mail Anda setelah pembayaran diterima.", "Give the cashier the order number %s and pay %s before %s. The tickets are sent to your e-mail once the payment is taken."},
	"order.online.title":        {"Bayar online", "Pay online"},
	"order.online.steps":        {"Transfer %s ke virtual account di bawah atau pindai QR-nya di aplikasi bank Anda sebelum %s.", "Transfer %s to the virtual account below, or scan its QR code in your banking app, before %s."},
	"order.va":                  {"Virtual account", "Virtual account"},
	"order.pay":                 {"Buka halaman pembayaran", "Open the payment page"},
	"order.waitpay":             {"Menyiapkan pembayaran… halaman ini diperbarui sendiri.", "Preparing the payment… this page updates by itself."},
	"order.paidwait":            {"Pembayaran diterima. Tiket sedang diterbitkan… halaman ini diperbarui sendiri.", "Payment received. The tickets are being issued… this page updates by itself."},
	"order.tickets":             {"Lihat e-tiket", "View e-tickets"},
	"order.lines":               {"Tiket", "Tickets"},
	"order.buyer":               {"Pemesan", "Buyer"},
	"order.reason":              {"Keterangan", "Note"},
	"order.expired":             {"Waktu pembayaran habis dan tiket telah dilepas. Silakan pesan lagi.", "The time to pay ran out and the tickets were released. Please order again."},
	"order.canceled":            {"Pesanan ini dibatalkan.", "This order was canceled."},
	"order.refund.title":        {"Minta pengembalian dana", "Ask for a refund"},
	"order.refund.lede":         {"Seluruh sisa pembayaran dikembalikan dan semua tiket dibatalkan jika penyelenggara menyetujui.", "If the organiser approves, what is left of the payment is returned and every ticket is canceled."},
	"order.refund.reason":       {"Alasan", "Reason"},
	"order.refund.submit":       {"Kirim permintaan", "Send the request"},
	"order.refund.sent":         {"Permintaan pengembalian dana terkirim; penyelenggara akan memutuskannya.", "Refund request sent; the organiser will decide on it."},
	"order.refund.list":         {"Permintaan pengembalian", "Refund requests"},
	"refund.requested":          {"diminta", "requested"},
	"refund.approved":           {"disetujui", "approved"},
	"refund.refunded":           {"dikembalikan", "refunded"},
	"refund.rejected":           {"ditolak", "rejected"},
	"refund.conflict":           {"Pesanan ini tidak dapat dikembalikan lagi: tidak ada sisa pembayaran untuk dikembalikan.", "This order cannot be refunded: nothing paid is left to return."},
	"field.reason":              {"Tulis alasannya (maks. 500 karakter).", "Give a reason (up to 500 characters)."},

	"provider.title":   {"Arus Pay (simulasi)", "Arus Pay (simulated)"},
	"provider.lede":    {"Halaman ini memerankan penyedia pembayaran online: tombol di bawah mengirim callback bertanda tangan penyedia ke layanan pembayaran.", "This page plays the online payment provider: the buttons below send the provider's signed callback to the payment service."},
	"provider.amount":  {"Jumlah", "Amount"},
	"provider.to":      {"Kepada", "To"},
	"provider.pay":     {"Bayar %s", "Pay %s"},
	"provider.fail":    {"Gagalkan pembayaran", "Fail the payment"},
	"provider.refused": {"Penyedia tidak dapat memproses pembayaran ini: %s", "The provider could not take this payment: %s"},
	"provider.closed":  {"Pesanan ini tidak menunggu pembayaran online.", "This order is not waiting for an online payment."},

	"tickets.title":   {"E-tiket", "E-tickets"},
	"tickets.lede":    {"Tunjukkan QR ini di gerbang. Satu QR untuk satu orang.", "Show this QR code at the gate. One code per person."},
	"tickets.holder":  {"Pemegang", "Holder"},
	"tickets.area":    {"Area", "Area"},
	"tickets.gate":    {"Masuk lewat gerbang yang melayani area %s.", "Enter through a gate that serves the %s area."},
	"tickets.gates":   {"Gerbang", "Gates"},
	"tickets.window":  {"Berlaku", "Valid"},
	"tickets.code":    {"Kode tiket", "Ticket code"},
	"tickets.qr":      {"QR tiket %d dari %d, area %s", "QR code of ticket %d of %d, area %s"},
	"tickets.revoked": {"Dibatalkan", "Canceled"},
	"tickets.print":   {"Cetak", "Print"},
	"tickets.none":    {"Pesanan ini belum punya tiket: tiket terbit setelah pembayaran diterima.", "This order has no tickets yet: they are issued once the payment is taken."},
	"tickets.number":  {"Tiket %d dari %d", "Ticket %d of %d"},

	"login.title":     {"Masuk", "Sign in"},
	"login.lede":      {"Masuk untuk melihat semua pesanan Anda. Membeli tidak memerlukan akun.", "Sign in to see all your orders. Buying needs no account."},
	"login.username":  {"Nama pengguna", "Username"},
	"login.password":  {"Kata sandi", "Password"},
	"login.submit":    {"Masuk", "Sign in"},
	"login.wrong":     {"Nama pengguna atau kata sandi salah.", "Wrong username or password."},
	"login.throttled": {"Terlalu banyak percobaan gagal. Coba lagi nanti.", "Too many failed sign-ins. Try again later."},

	"signup.title":        {"Buat akun", "Create an account"},
	"signup.lede":         {"Akun menyimpan semua pesanan Anda di satu tempat. Membeli tetap bisa tanpa akun.", "An account keeps all your orders in one place. You can still buy without one."},
	"signup.name":         {"Nama lengkap", "Full name"},
	"signup.email":        {"E-mail", "E-mail"},
	"signup.phone":        {"Nomor telepon (opsional)", "Phone number (optional)"},
	"signup.password":     {"Kata sandi", "Password"},
	"signup.lang":         {"Bahasa e-mail", "Language of the e-mails"},
	"signup.submit":       {"Buat akun", "Create the account"},
	"signup.done":         {"Periksa e-mail Anda", "Check your e-mail"},
	"signup.confirm":      {"Kami mengirim tautan konfirmasi ke %s. Setelah dikonfirmasi, masuk dengan nama pengguna %s.", "We sent a confirmation link to %s. Once confirmed, sign in with the username %s."},
	"signup.taken":        {"Sudah ada akun dengan e-mail ini; silakan masuk.", "An account with this e-mail exists; please sign in."},
	"signup.err.name":     {"Nama wajib diisi.", "Enter your name."},
	"signup.err.email":    {"Masukkan alamat e-mail yang valid.", "Enter a valid e-mail address."},
	"signup.err.password": {"Gunakan 12 karakter atau lebih, bukan nama pengguna.", "Use 12 characters or more, other than the username."},
	"login.signup":        {"Belum punya akun? Buat akun", "No account yet? Create one"},
	"queue.title":         {"Antrean", "Waiting room"},
	"queue.lede":          {"Banyak pembeli sedang datang. Ambil nomor antrean; Anda dilayani sesuai urutan datang.", "Many buyers are arriving. Take a place in the queue; buyers are served in the order they came."},
	"queue.join":          {"Ambil nomor antrean", "Take a place in the queue"},
	"queue.position":      {"Nomor antrean Anda: %d", "Your place in the queue: %d"},
	"queue.ahead":         {"%d orang di depan Anda.", "%d people ahead of you."},
	"queue.estimate":      {"Perkiraan giliran Anda: sekitar %s.", "Your turn is expected at about %s."},
	"queue.keep":          {"Halaman ini diperbarui sendiri; jangan tutup.", "This page updates by itself; keep it open."},
	"queue.turn":          {"Giliran Anda!", "It is your turn!"},
	"queue.until":         {"Lanjutkan ke pembayaran sebelum %s.", "Continue to checkout before %s."},
	"my.title":            {"Pesanan saya", "My orders"},
	"my.lede":             {"Pesanan yang Anda buat saat masuk.", "The orders you placed while signed in."},
	"my.empty":            {"Belum ada pesanan. Pilih acara untuk membeli tiket.", "No orders yet. Pick an event to buy tickets."},
	"my.event":            {"Acara", "Event"},
	"my.placed":           {"Dipesan", "Placed"},

	"notfound.title": {"Halaman tidak ditemukan", "Page not found"},
	"notfound.text":  {"Tautan ini tidak dikenal atau sudah tidak berlaku.", "This link is unknown or no longer valid."},
	"error.title":    {"Terjadi kesalahan", "Something went wrong"},
	"error.text":     {"Permintaan tidak dapat diselesaikan. Silakan coba lagi sebentar lagi.", "The request could not be completed. Please try again in a moment."},
	"limit.title":    {"Terlalu banyak permintaan", "Too many requests"},
	"limit.text":     {"Tunggu sebentar, lalu coba lagi.", "Wait a moment, then try again."},
	"badform.title":  {"Formulir tidak terbaca", "The form could not be read"},
	"badform.text":   {"Kembali dan kirim formulir sekali lagi.", "Go back and send the form again."},
	"expired.title":  {"Formulir kedaluwarsa", "The form expired"},
	"expired.text":   {"Kembali, muat ulang halaman, dan coba lagi.", "Go back, reload the page and try again."},
	"back.events":    {"Kembali ke daftar acara", "Back to the events"},
}
