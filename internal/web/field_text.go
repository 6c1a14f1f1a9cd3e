package web

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
)

// The field errors of the ticketing, payment and gate services (and of the
// console's own forms) come in English, each written from a format such
// as "%d: must be at least 1". fieldText holds each format with its
// Indonesian wording, which takes the values the English names, in order
// (%[n]s picks one); FieldMsg finds the format a message was written from
// and writes it in Indonesian. TestFieldTextEveryFormat reads the services'
// source and fails on a format missing here.
var fieldText = map[string]string{
	"%d is less than the %d due":          "%s kurang dari tagihan %s",
	"%d is negative":                      "%s bernilai negatif",
	"%d is not the %d due for payment %s": "%s bukan tagihan %s untuk pembayaran %s",
	"%d lines: at most %d":                "%s baris: paling banyak %s",
	"%d rupiah: must be from 1 to the %d left to refund on order %s": "%s rupiah: harus 1 sampai sisa %s yang dapat dikembalikan pada pesanan %s",
	"%d tickets: at most %d per order":                               "%s tiket: paling banyak %s per pesanan",
	"%d: admissions per second must be 1 to %d":                      "%s: penerimaan per detik harus 1 sampai %s",
	"%d: must be %d to %d seconds":                                   "%s: harus %s sampai %s detik",
	"%d: must be at least 1":                                         "%s: minimal 1",
	"%d: must be from 0 to 1,000,000,000 rupiah":                     "%s: harus 0 sampai 1.000.000.000 rupiah",
	"%d: must be from 1 to 1,000,000":                                "%s: harus 1 sampai 1.000.000",
	"%q is not a date and time such as 2026-03-20T18:30":             "%s bukan tanggal dan waktu seperti 2026-03-20T18:30",
	"%q is not a payment method":                                     "%s bukan metode pembayaran",
	"%q is not a whole number":                                       "%s bukan bilangan bulat",
	"%q is not an IANA time zone such as Asia/Jakarta":               "%s bukan zona waktu IANA seperti Asia/Jakarta",
	"%q is not an e-mail address":                                    "%s bukan alamat e-mail",
	"%q is not one of %s":                                            "%s bukan salah satu dari %s",
	"%q: use %s or %s":                                               "%s: gunakan %s atau %s",
	"%q: use upper-case letters, digits and '_'":                     "%s: gunakan huruf besar, angka dan '_'",
	"%s is not the virtual account of payment %s":                    "%s bukan akun virtual pembayaran %s",
	"a merchant named %q exists":                                     "merchant bernama %s sudah ada",
	"a payment id or a virtual account is required":                  "id pembayaran atau akun virtual wajib diisi",
	"a refund of tickets names at least one ticket":                  "pengembalian per tiket menyebut setidaknya satu tiket",
	"a staff pass needs a work window":                               "pas staf memerlukan waktu kerja",
	"an event cannot move to another merchant":                       "acara tidak dapat pindah ke merchant lain",
	"an event needs at least one area":                               "acara memerlukan setidaknya satu area",
	"an event needs at least one area before approval":               "acara memerlukan setidaknya satu area sebelum disetujui",
	"an order needs at least one line":                               "pesanan memerlukan setidaknya satu baris",
	"area %s is in two lines; put its tickets in one":                "area %s ada di dua baris; satukan tiketnya dalam satu baris",
	"at most %d per upload":                                          "paling banyak %s per unggahan",
	"event %s has no area %s":                                        "acara %s tidak punya area %s",
	"event %s has no gate %q":                                        "acara %s tidak punya gerbang %s",
	"expired at %s; join the waiting room again":                     "kedaluwarsa pada %s; masuk ke ruang tunggu lagi",
	"gate %s lets through %s only":                                   "gerbang %s hanya meloloskan arah %s",
	"is before start":                                                "sebelum start",
	"is before starts":                                               "sebelum starts",
	"is before work_starts":                                          "sebelum work_starts",
	"is not a queue ticket":                                          "bukan tiket antrean",
	"is not a queue ticket of event %s":                              "bukan tiket antrean acara %s",
	"is not an admission token":                                      "bukan token masuk",
	"is not an admission token this server signed":                   "bukan token masuk yang ditandatangani server ini",
	"is required":                         "wajib diisi",
	"is required for an upload":           "wajib diisi untuk unggahan",
	"is required, at most 200 characters": "wajib diisi, paling banyak 200 karakter",
	"is required: say why the pass goes through without being scanned":                                                "wajib diisi: sebutkan mengapa pas ini boleh lewat tanpa dipindai",
	"is required: the waiting room of event %s is on; join it and order with the token it gives when your turn comes": "wajib diisi: ruang tunggu acara %s aktif; masuk ke ruang tunggu dan pesan dengan token yang diberikan saat giliran Anda tiba",
	"is the id of a ticket of event %s":                                                                               "adalah id tiket acara %s",
	"may hold letters, digits, '-', '_' and '.' only":                                                                 "hanya boleh berisi huruf, angka, '-', '_' dan '.'",
	"must be 1 to %d":                     "harus 1 sampai %s",
	"must be 1 to %d bytes":               "harus 1 sampai %s byte",
	"must be 1 to 100":                    "harus 1 sampai 100",
	"must be 1 to 100 characters of text": "harus 1 sampai 100 karakter teks",
	"must be after %s":                    "harus setelah %s",
	"must be at least %d characters":      "minimal %s karakter",
	"must be at most %d bytes":            "maksimal %s byte",
	"must be at most %d characters":       "maksimal %s karakter",
	"must be at most 500 bytes":           "maksimal 500 byte",
	"must be entry or exit":               "harus entry atau exit",
	"must be entry, exit or both":         "harus entry, exit atau both",
	"must be steward or supervisor":       "harus steward atau supervisor",
	"must be up to 30 days":               "paling lama 30 hari",
	"must not be after the event ends":    "tidak boleh setelah acara selesai",
	"must not be negative":                "tidak boleh negatif",
	"name at least one area":              "sebutkan setidaknya satu area",
	"name the payment by exactly one of payment_id, virtual_account and qr": "sebutkan pembayaran dengan tepat satu dari payment_id, virtual_account dan qr",
	"names no queue ticket of event %s":                                     "tidak menyebut tiket antrean acara %s",
	"no event %s":                                                           "tidak ada acara %s",
	"no inactive key %d in event %s":                                        "tidak ada kunci tidak aktif %s di acara %s",
	"no merchant %s":                                                        "tidak ada merchant %s",
	"no such list":                                                          "daftar itu tidak ada",
	"not a QR string of this provider":                                      "bukan string QR penyedia ini",
	"not a provider event: %v":                                              "bukan peristiwa penyedia: %s",
	"only a partial refund names an amount; a %s refund's amount follows from its tickets": "hanya pengembalian sebagian yang menyebut jumlah; jumlah pengembalian %s mengikuti tiketnya",
	"only a refund of tickets names tickets":                                               "hanya pengembalian per tiket yang menyebut tiket",
	"order %s has no ticket %s":                                                            "pesanan %s tidak punya tiket %s",
	"payment %s is paid %s, not online":                                                    "pembayaran %s memakai %s, bukan online",
	"the event has an area named %q":                                                       "acara sudah punya area bernama %s",
	"the event has no area %q":                                                             "acara tidak punya area %s",
	"ticket %s is %s":                                                                      "tiket %s berstatus %s",
	"ticket %s is named twice":                                                             "tiket %s disebut dua kali",
	"was given for event %s, not %s":                                                       "diberikan untuk acara %s, bukan %s",
	"was used by another order; one token admits one order":                                "sudah dipakai pesanan lain; satu token untuk satu pesanan",
	"was used by order %s; one token admits one order":                                     "sudah dipakai pesanan %s; satu token untuk satu pesanan",
}

// fieldFormats are fieldText's formats as patterns, the most specific
// (the most fixed text) first, so that "ticket %s is named twice" wins
// over "ticket %s is %s".
var fieldFormats = compileFieldText(fieldText)

type fieldFormat struct {
	format string // as the service writes it
	en     *regexp.Regexp
	id     string
}

var fieldVerb = regexp.MustCompile(`%[dqsv]`)

func compileFieldText(m map[string]string) []fieldFormat {
	var out []fieldFormat
	fixed := map[*regexp.Regexp]int{}
	for en, id := range m {
		var b strings.Builder
		b.WriteString("^")
		last := 0
		for _, loc := range fieldVerb.FindAllStringIndex(en, -1) {
			b.WriteString(regexp.QuoteMeta(en[last:loc[0]]))
			switch en[loc[1]-1] {
			case 'd':
				b.WriteString(`(-?\d+)`)
			case 'q':
				b.WriteString(`(".*")`)
			default:
				b.WriteString(`(.+?)`)
			}
			last = loc[1]
		}
		b.WriteString(regexp.QuoteMeta(en[last:]) + "$")
		re := regexp.MustCompile(b.String())
		fixed[re] = len(fieldVerb.ReplaceAllString(en, ""))
		out = append(out, fieldFormat{format: en, en: re, id: id})
	}
	slices.SortFunc(out, func(a, b fieldFormat) int {
		return cmp.Or(cmp.Compare(fixed[b.en], fixed[a.en]), strings.Compare(a.en.String(), b.en.String()))
	})
	return out
}

// FieldMsg is a field error's message in the page's language; its values
// are written as refusals' are (refusalArg). A message from no known
// format stays English.
func (v view) FieldMsg(msg string) string {
	if v.Lang == "en" {
		return msg
	}
	for _, f := range fieldFormats {
		m := f.en.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		args := make([]any, len(m)-1)
		for i, a := range m[1:] {
			args[i] = refusalArg(v.Lang, a)
		}
		return fill(f.id, args...)
	}
	return msg
}
