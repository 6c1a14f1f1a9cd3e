package notify

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"time"
)

// MIME returns msg as an Internet message from from: a multipart/related
// body holding the text and HTML alternatives and the inline images the
// HTML refers to by Content-ID.
func MIME(msg Message, from string) ([]byte, error) {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", msg.To)
	header("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	header("Date", msg.CreatedAt.Format(time.RFC1123Z))
	header("Message-ID", "<"+msg.ID+"@arus>")
	header("MIME-Version", "1.0")
	related := multipart.NewWriter(&b)
	header("Content-Type", "multipart/related; type=\"multipart/alternative\"; boundary="+related.Boundary())
	b.WriteString("\r\n")

	var alt bytes.Buffer
	altW := multipart.NewWriter(&alt)
	for _, body := range []struct{ typ, text string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		w, err := altW.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {body.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(body.text)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := altW.Close(); err != nil {
		return nil, err
	}
	w, err := related.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/alternative; boundary=" + altW.Boundary()}})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(alt.Bytes()); err != nil {
		return nil, err
	}
	for _, p := range msg.Parts {
		w, err := related.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ContentType},
			"Content-Transfer-Encoding": {"base64"},
			"Content-ID":                {"<" + p.ContentID + ">"},
			"Content-Disposition":       {`inline; filename="` + p.ContentID + `.png"`},
		})
		if err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(p.Data)
		for len(enc) > 76 {
			if _, err := w.Write([]byte(enc[:76] + "\r\n")); err != nil {
				return nil, err
			}
			enc = enc[76:]
		}
		if _, err := w.Write([]byte(enc + "\r\n")); err != nil {
			return nil, err
		}
	}
	if err := related.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
