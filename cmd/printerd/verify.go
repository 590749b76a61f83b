package main

import (
	"context"
	"fmt"
	"github.com/cityid/printerd/internal/imgcheck"
	_ "image/jpeg" // card photos taken with a phone
	_ "image/png"  // rendered cards
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cityid/printerd/layout/barcode"
)

// kvList is a repeatable string flag.
type kvList []string

func (l *kvList) String() string     { return strings.Join(*l, ",") }
func (l *kvList) Set(v string) error { *l = append(*l, v); return nil }

// verifyClaims is the signed fields as verify --json prints them.
type verifyClaims struct {
	Issuer  string `json:"issuer"`
	Number  string `json:"card_number"`
	Issue   int    `json:"issue"`
	Name    string `json:"name"`
	DOB     string `json:"birth_date"`
	Gender  string `json:"gender"`
	Issued  string `json:"issued"`
	Expires string `json:"expires"`
}

// verifyResult is what verify --json prints.
type verifyResult struct {
	Valid   bool          `json:"valid"`
	KID     string        `json:"kid,omitempty"`
	Expired bool          `json:"expired"`
	Claims  *verifyClaims `json:"claims,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// cmdVerify is printerd verify.
func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := kvFlagSet("printerd verify", "printerd verify (--image PNG | --text STRING | --chip FILE --can NUMBER) --keys FILE... [--json]", stderr)
	imgPath := fs.String("image", "", "image of the card or of the barcode (PNG or JPEG)")
	text := fs.String("text", "", "barcode text (Base45), as a scanner reads it")
	chipPath, can := verifyChipFlags(fs)
	var keyPaths kvList
	fs.Var(&keyPaths, "keys", "trusted public keys: .pub PEM files, JSON key lists (printerd keys publish) or directories of them; repeatable, and further files may follow")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	// "--keys a.pub b.pub": files after --keys arrive as positional arguments.
	keyPaths = append(keyPaths, pos...)
	if verifyInputs(*imgPath, *text, *chipPath) != 1 {
		return kvUsageError(fs, "give exactly one of --image, --text or --chip")
	}
	if (*chipPath == "") != (*can == "") {
		return kvUsageError(fs, "--chip and --can go together: the chip opens with the access number printed on the card")
	}
	if len(keyPaths) == 0 {
		return kvUsageError(fs, "--keys: name at least one trusted public key or key list")
	}
	fail := func(err error) int {
		if *asJSON {
			kvPrintJSON(stdout, stderr, verifyResult{Valid: false, Error: err.Error()})
		} else {
			fmt.Fprintln(stdout, "signature: INVALID")
		}
		fmt.Fprintf(stderr, "printerd verify: %v\n", err)
		return exitFail
	}
	paths, err := verifyExpand(keyPaths)
	if err != nil {
		return fail(err)
	}
	keys, entries, err := barcode.LoadKeys(paths...)
	if err != nil {
		return fail(err)
	}
	if *imgPath != "" {
		*text, err = verifyScan(*imgPath)
		if err != nil {
			return fail(err)
		}
	}
	if *chipPath != "" {
		if *text, err = verifyChip(*chipPath, *can); err != nil {
			return fail(err)
		}
	}
	c, kid, err := barcode.Verify(strings.TrimSpace(*text), keys)
	if err != nil {
		return fail(err)
	}
	issued, _ := time.Parse("2006-01-02", c.Issued)
	if e, ok := entries[kid]; ok {
		if err := e.ValidAt(issued); err != nil {
			return fail(err)
		}
	}
	expires, _ := time.Parse("2006-01-02", c.Expires)
	expired := !time.Now().Before(expires.AddDate(0, 0, 1))
	res := verifyResult{
		Valid:   true,
		KID:     kid,
		Expired: expired,
		Claims: &verifyClaims{
			Issuer: c.Issuer, Number: c.Number, Issue: c.Issue, Name: c.Name,
			DOB: c.DOB, Gender: c.Gender, Issued: c.Issued, Expires: c.Expires,
		},
	}
	status := exitOK
	if expired {
		// The signature is good but the card is no longer valid: a check
		// that a script relies on must fail.
		status = exitFail
	}
	if *asJSON {
		if code := kvPrintJSON(stdout, stderr, res); code != exitOK {
			return code
		}
	} else {
		// Personal data goes to standard output only: the operator asked
		// for it. Signed text is shown with control characters escaped, so
		// a signed name cannot drive the terminal.
		fmt.Fprintf(stdout, "issuer:      %s\ncard number: %s\nissue:       %d\nname:        %s\nbirth date:  %s\ngender:      %s\nissued:      %s\nexpires:     %s",
			safeText(c.Issuer), safeText(c.Number), c.Issue, safeText(c.Name), safeText(c.DOB), safeText(c.Gender), safeText(c.Issued), safeText(c.Expires))
		if expired {
			fmt.Fprint(stdout, " (expired)")
		}
		fmt.Fprintf(stdout, "\nsignature: valid (kid %s)\n", kid)
	}
	if expired {
		fmt.Fprintf(stderr, "printerd verify: the card expired on %s: the signature is valid, the card is not\n", safeText(c.Expires))
	}
	return status
}

// safeText returns s with every character that is not printable (control
// characters, ANSI escapes, bidirectional overrides and other format
// characters) written as a Go escape (\x1b, \u202e), and backslashes
// doubled, so that text from a barcode cannot act on a terminal.
func safeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == utf8.RuneError || !unicode.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// verifyExpand replaces each directory among paths by its *.pub and
// *.json files.
func verifyExpand(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		for _, pat := range []string{"*.pub", "*.json"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("keys: %s holds no *.pub or *.json file", p)
		}
		out = append(out, found...)
	}
	return out, nil
}

// Limits of verify --image: a scan or a phone's photo of a card, not
// more (the header is checked before decoding).
const (
	verifyMaxFile   = 64 << 20
	verifyMaxSide   = 16384
	verifyMaxDecode = 256 << 20
)

// verifyScan reads the barcode text from an image file.
func verifyScan(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, verifyMaxFile+1))
	if err != nil {
		return "", fmt.Errorf("image %s: %w", path, err)
	}
	if len(b) > verifyMaxFile {
		return "", fmt.Errorf("image %s: larger than %d MiB", path, verifyMaxFile>>20)
	}
	img, _, err := imgcheck.Decode(b, verifyMaxSide, verifyMaxDecode)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", path, err)
	}
	text, err := barcode.Scan(img)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", path, err)
	}
	return text, nil
}
