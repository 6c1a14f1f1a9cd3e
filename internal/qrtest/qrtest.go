// Package qrtest reads the QR code of a PNG in tests: the e-tickets that
// notify mails, the storefront's tickets on screen.
package qrtest

import (
	"bytes"
	"image"
	"image/draw"
	_ "image/png" // the images are PNGs
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Decode returns the text of the QR code in png. It looks for the code the
// way a camera scanner does and, when that misses it, reads the image as
// nothing but the code: gozxing's finder misses about one valid code in a
// hundred of the sizes the tickets use, which a second reading decodes. A
// last reading looks harder, in the image set on a white margin: a
// screenshot of a code on a page is cut at the code's own edge.
func Decode(t testing.TB, png []byte) string {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatalf("the QR image: %v", err)
	}
	readings := []struct {
		img   image.Image
		hints map[gozxing.DecodeHintType]any
	}{
		{img, nil},
		{img, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}},
		{onMargin(img), map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}},
	}
	var last error
	for _, r := range readings {
		bmp, err := gozxing.NewBinaryBitmapFromImage(r.img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, r.hints)
		if err == nil {
			return res.GetText()
		}
		last = err
	}
	t.Fatalf("the QR code does not read: %v", last)
	return ""
}

// onMargin returns img drawn on white with a margin of a tenth of its
// width on every side.
func onMargin(img image.Image) image.Image {
	b := img.Bounds()
	m := max(b.Dx()/10, 8)
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()+2*m, b.Dy()+2*m))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(m, m, m+b.Dx(), m+b.Dy()), img, b.Min, draw.Over)
	return out
}
