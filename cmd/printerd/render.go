package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/layout/panel"
	"github.com/cityid/printerd/queue/job"
)

const renderSynopsis = "printerd render JOB.json --issuer-key FILE --out DIR [--template NAME] [--ribbon ymcko|ymckok|ko|k] [--templates DIR] [--issuer-code CODE]"

// cmdRender is printerd render: it lays a job out without a printer and
// writes DIR/front.png, DIR/back.png (1016x648, 300 dpi) and DIR/proof.pdf.
// The card is signed and self-checked exactly as the daemon does it.
func cmdRender(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("printerd render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nLays out the card of JOB.json and writes front.png, back.png and proof.pdf into DIR.\nThe files hold personal data: delete them when the proof is checked.\n\nflags:\n", renderSynopsis)
		fs.PrintDefaults()
	}
	keyPath := fs.String("issuer-key", "", "issuer private key that signs the barcode (PKCS#8 PEM, mode 0600)")
	out := fs.String("out", "", "directory to write front.png, back.png and proof.pdf into")
	tmpl := fs.String("template", "", "card template; default: the one the job names")
	ribbon := fs.String("ribbon", string(panel.YMCKO), "ribbon the card is laid out for: ymcko, ymckok, ko or k")
	tdir := fs.String("templates", "", "directory of extra card templates (*.json)")
	code := fs.String("issuer-code", "CITY", "issuer code signed into the barcode (iss)")
	// flags may come before or after JOB.json
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "printerd render: %s\n", msg)
		fs.Usage()
		return exitUsage
	}
	switch {
	case len(pos) != 1:
		return usageErr("name exactly one JOB.json")
	case *keyPath == "":
		return usageErr("--issuer-key is required")
	case *out == "":
		return usageErr("--out is required")
	}
	if err := panel.Ribbon(*ribbon).Valid(); err != nil {
		return usageErr(err.Error())
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "printerd render: %v\n", err)
		return exitFail
	}
	body, err := os.ReadFile(pos[0])
	if err != nil {
		return fail(err)
	}
	j, err := job.Parse(body)
	if err != nil {
		return fail(err)
	}
	photo, err := j.Card.PhotoBytes()
	if err != nil {
		return fail(err)
	}
	key, err := keyfile.LoadPrivate(*keyPath)
	if err != nil {
		return fail(err)
	}
	r, err := layout.New(layout.Options{Issuer: key, IssuerCode: *code, Templates: *tdir, Ribbon: panel.Ribbon(*ribbon)})
	if err != nil {
		return fail(err)
	}
	name := j.Template
	if *tmpl != "" {
		name = *tmpl
	}
	c, err := r.Render(ctx, name, layout.Fields{
		Number: j.Card.Number, Issue: j.Card.Issue, Name: j.Card.Name, DOB: j.Card.DOB,
		Gender: j.Card.Gender, Issued: j.Card.Issued, Expires: j.Card.Expires, Photo: photo,
	})
	if err != nil {
		return fail(err)
	}
	if err := c.WritePNGs(*out); err != nil {
		return fail(err)
	}
	var pdf bytes.Buffer
	if err := c.WriteProofPDF(&pdf); err != nil {
		return fail(err)
	}
	pdfPath := filepath.Join(*out, "proof.pdf")
	if err := os.WriteFile(pdfPath, pdf.Bytes(), 0o600); err != nil {
		return fail(err)
	}
	// job id and paths only: no personal data on the terminal
	fmt.Fprintf(stdout, "job %s: wrote %s, %s and %s (template %s, ribbon %s; barcode self-check passed)\n",
		j.ID, filepath.Join(*out, "front.png"), filepath.Join(*out, "back.png"), pdfPath, name, *ribbon)
	return exitOK
}
