package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/magicard"
)

const encodeSynopsis = "printerd encode JOB.json --issuer-key FILE [--lang evolis|magicard] [--layout kee|kge] [--ribbon ymcko|ymckok|ko|k] [--compress] [--levels 32|64|128] [--rotate 270|90] [--template NAME] [--templates DIR] [--issuer-code CODE]"

// cmdEncode is printerd encode: it lays the job's card out, signs it, and
// writes the Evolis command stream (or the Magicard job) for it to standard output, as a print
// filter would (no replies are read). Nothing else goes to standard output.
func cmdEncode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("printerd encode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nWrites the printer command stream for the card of JOB.json to standard output.\n"+
			"The stream holds the card's personal data: send it to a printer, not to a file nobody asked for.\n\nflags:\n", encodeSynopsis)
		fs.PrintDefaults()
	}
	compress := fs.Bool("compress", false, "compressed downloads (Dbc) instead of Db")
	levels := fs.Int("levels", 32, "levels for Y, M and C: 32, 64 or 128")
	rotate := fs.Int("rotate", 270, "rotation from the landscape design to print order: 270 or 90")
	lang := fs.String("lang", "evolis", "printer language: evolis or magicard")
	layout := fs.String("layout", "kee", "with --lang magicard: line layout, kee (Rio 2e, Tango) or kge (Enduro, Rio Pro, Pronto)")
	cf := addCardFlags(fs)
	pos, status, done := parseArgs(fs, args)
	if done {
		return status
	}
	usageErr := func(msg string) int { return usageError(stderr, "encode", msg) }
	opts := evolis.Options{Compress: *compress, Levels: *levels, Rotation: *rotate, Ribbon: card.Ribbon(*cf.ribbon)}
	switch {
	case len(pos) != 1:
		return usageErr("name exactly one JOB.json")
	case *cf.issuerKey == "":
		return usageErr("--issuer-key is required")
	}
	mopts := magicard.Options{Layout: magicard.Layout(*layout), Ribbon: card.Ribbon(*cf.ribbon)}
	switch *lang {
	case "evolis":
		if err := opts.Validate(); err != nil {
			return usageErr(err.Error())
		}
	case "magicard":
		if err := mopts.Validate(); err != nil {
			return usageErr(err.Error())
		}
	default:
		return usageErr(fmt.Sprintf("--lang %q: want evolis or magicard", *lang))
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "printerd encode: %v\n", err)
		return exitFail
	}
	j, c, _, err := cf.renderJobFile(ctx, pos[0])
	if err != nil {
		return fail(err)
	}
	card := c.Panels
	card.Label = j.ID
	var stream []byte
	if *lang == "magicard" {
		stream, err = magicard.EncodeCard(card, mopts)
	} else {
		stream, err = evolis.EncodeCard(card, opts)
	}
	if err != nil {
		return fail(err)
	}
	if _, err := stdout.Write(stream); err != nil {
		return fail(fmt.Errorf("write the stream: %w", err))
	}
	return exitOK
}
