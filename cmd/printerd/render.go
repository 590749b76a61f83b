package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cityid/printerd/card"
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
	out := fs.String("out", "", "directory to write front.png, back.png and proof.pdf into")
	cf := addCardFlags(fs)
	pos, status, done := parseArgs(fs, args)
	if done {
		return status
	}
	usageErr := func(msg string) int { return usageError(stderr, "render", msg) }
	switch {
	case len(pos) != 1:
		return usageErr("name exactly one JOB.json")
	case *cf.issuerKey == "":
		return usageErr("--issuer-key is required")
	case *out == "":
		return usageErr("--out is required")
	}
	if err := card.Ribbon(*cf.ribbon).Valid(); err != nil {
		return usageErr(err.Error())
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "printerd render: %v\n", err)
		return exitFail
	}
	j, c, name, err := cf.renderJobFile(ctx, pos[0])
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
		j.ID, filepath.Join(*out, "front.png"), filepath.Join(*out, "back.png"), pdfPath, name, *cf.ribbon)
	return exitOK
}
