// Package qrtest reads the QR code of a PNG in tests: the e-tickets that
// notify mails, the storefront's tickets on screen.
package qrtest

import (
	"bytes"
	"image"
	_ "image/png" // the images are PNGs
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Decode returns the text of the QR code in png. It looks for the code the
// way a camera scanner does and, when that misses it, reads the image as
// nothing but the code: gozxing's finder misses about one valid code in a
// hundred of the sizes the tickets use, which a second reading decodes.
func Decode(t testing.TB, png []byte) string {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatalf("the QR image: %v", err)
	}
	var last error
	for _, hints := range []map[gozxing.DecodeHintType]any{nil, {gozxing.DecodeHintType_PURE_BARCODE: true}} {
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
		if err == nil {
			return res.GetText()
		}
		last = err
	}
	t.Fatalf("the QR code does not read: %v", last)
	return ""
}
