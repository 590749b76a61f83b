package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout/barcode"
)

const keysUsage = `usage: printerd keys <verb> [flags]

verbs:
  new      make a key pair: DIR/<kind>.key (PKCS#8 PEM, mode 0600) and DIR/<kind>.pub
  publish  write the JSON key list verifiers trust: [{kid, alg, key, valid_from, valid_to}]
  id       print the key id (kid) of public key files
  daemon   print the daemon's long-term public key, which enrollment pins (--state DIR)
  epoch    list, rotate or destroy the daemon's epoch keys (printerd keys epoch --help)

printerd keys <verb> --help shows a verb's flags.
`

// cmdKeys is printerd keys.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stderr, keysUsage)
		return exitOK
	case "new":
		return keysNew(args[1:], stdout, stderr)
	case "publish":
		return keysPublish(args[1:], stdout, stderr)
	case "id":
		return keysID(args[1:], stdout, stderr)
	case "daemon":
		return keysDaemon(args[1:], stdout, stderr)
	case "epoch":
		return keysEpoch(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "printerd keys: unknown verb %q\n\n%s", args[0], keysUsage)
	return exitUsage
}

// kvUsageError prints a bad-usage message and the flags, and returns exitUsage.
func kvUsageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}

func kvFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// keysNewResult is what keys new prints with --json.
type keysNewResult struct {
	Kind      string `json:"kind"`
	Alg       string `json:"alg"`
	KID       string `json:"kid"`
	KeyFile   string `json:"key_file"`
	PubFile   string `json:"pub_file"`
	PublicKey string `json:"public_key"`
}

func keysNew(args []string, stdout, stderr io.Writer) int {
	fs := kvFlagSet("printerd keys new", "printerd keys new --kind issuer|approver --out DIR [--alg es256|ed25519] [--json]", stderr)
	kind := fs.String("kind", "", "key kind: issuer (signs card barcodes) or approver (signs jobs)")
	out := fs.String("out", "", "directory to write <kind>.key and <kind>.pub into")
	alg := fs.String("alg", "", "algorithm: es256 (issuer default) or ed25519 (approver: the only choice)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if code, done := parseFlagsOnly(fs, args); done {
		return code
	}
	switch *kind {
	case "issuer":
		if *alg == "" {
			*alg = keyfile.ES256
		}
	case "approver":
		if *alg == "" {
			*alg = keyfile.Ed25519
		}
		if strings.ToLower(*alg) != keyfile.Ed25519 {
			return kvUsageError(fs, "--alg %s: approver keys are ed25519 only", *alg)
		}
	case "":
		return kvUsageError(fs, "--kind is required (issuer or approver)")
	default:
		return kvUsageError(fs, "--kind %q: want issuer or approver", *kind)
	}
	*alg = strings.ToLower(*alg)
	if *alg != keyfile.ES256 && *alg != keyfile.Ed25519 {
		return kvUsageError(fs, "--alg %q: want es256 or ed25519", *alg)
	}
	if *out == "" {
		return kvUsageError(fs, "--out DIR is required")
	}
	key, err := keyfile.New(*alg)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys new: %v\n", err)
		return exitFail
	}
	if err := keyfile.WritePair(*out, *kind, key); err != nil {
		fmt.Fprintf(stderr, "printerd keys new: %v\n", err)
		return exitFail
	}
	kid, err := keyfile.KIDHex(key.Public())
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys new: %v\n", err)
		return exitFail
	}
	pubFile := filepath.Join(*out, *kind+".pub")
	pubPEM, err := os.ReadFile(pubFile)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys new: %v\n", err)
		return exitFail
	}
	res := keysNewResult{
		Kind: *kind, Alg: *alg, KID: kid,
		KeyFile: filepath.Join(*out, *kind+".key"), PubFile: pubFile,
		PublicKey: string(pubPEM),
	}
	if *asJSON {
		return kvPrintJSON(stdout, stderr, res)
	}
	fmt.Fprintf(stdout, "kid: %s\nkind: %s\nalg: %s\nprivate key: %s (mode 0600, keep it on the signing host only)\npublic key: %s\n%s",
		res.KID, res.Kind, res.Alg, res.KeyFile, res.PubFile, res.PublicKey)
	return exitOK
}

func kvPrintJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "printerd: %v\n", err)
		return exitFail
	}
	return exitOK
}

// keysParseDay parses a validity bound: YYYY-MM-DD (00:00 UTC) or RFC 3339.
func keysParseDay(s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if endOfDay {
			t = t.Add(24*time.Hour - time.Second)
		}
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func keysPublish(args []string, stdout, stderr io.Writer) int {
	fs := kvFlagSet("printerd keys publish", "printerd keys publish [--out FILE] [--valid-from DATE] [--valid-to DATE] PUB...", stderr)
	out := fs.String("out", "-", "file to write the JSON key list to (- for standard output)")
	from := fs.String("valid-from", "", "first day cards may be issued under these keys (YYYY-MM-DD or RFC 3339; empty: open)")
	to := fs.String("valid-to", "", "last day cards may be issued under these keys (YYYY-MM-DD or RFC 3339; empty: open)")
	pubs, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pubs) == 0 {
		return kvUsageError(fs, "name at least one public key file (.pub)")
	}
	vf, err := keysParseDay(*from, false)
	if err != nil {
		return kvUsageError(fs, "--valid-from: want YYYY-MM-DD or RFC 3339")
	}
	vt, err := keysParseDay(*to, true)
	if err != nil {
		return kvUsageError(fs, "--valid-to: want YYYY-MM-DD or RFC 3339")
	}
	keys, entries, err := barcode.LoadKeys(pubs...)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys publish: %v\n", err)
		return exitFail
	}
	list := make([]barcode.KeyListEntry, 0, len(keys))
	for _, k := range keys {
		if e, ok := entries[k.KID]; ok { // already from a list: keep its dates
			list = append(list, e)
			continue
		}
		e, err := barcode.NewKeyListEntry(k.Key, vf, vt)
		if err != nil {
			fmt.Fprintf(stderr, "printerd keys publish: %s: %v\n", k.Path, err)
			return exitFail
		}
		list = append(list, e)
	}
	for _, e := range list {
		if _, err := e.Public(); err != nil {
			fmt.Fprintf(stderr, "printerd keys publish: %v\n", err)
			return exitFail
		}
	}
	if *out == "-" {
		if err := barcode.WriteKeyList(stdout, list); err != nil {
			fmt.Fprintf(stderr, "printerd keys publish: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys publish: %v\n", err)
		return exitFail
	}
	if err := barcode.WriteKeyList(f, list); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "printerd keys publish: %v\n", err)
		return exitFail
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "printerd keys publish: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "printerd keys publish: wrote %d keys to %s\n", len(list), *out)
	return exitOK
}

func keysID(args []string, stdout, stderr io.Writer) int {
	fs := kvFlagSet("printerd keys id", "printerd keys id [--json] PUB...", stderr)
	asJSON := fs.Bool("json", false, "print {file: kid} as JSON")
	pubs, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pubs) == 0 {
		return kvUsageError(fs, "name at least one public key file (.pub)")
	}
	ids := map[string]string{}
	for _, p := range pubs {
		pub, err := keyfile.LoadPublic(p)
		if err != nil {
			fmt.Fprintf(stderr, "printerd keys id: %v\n", err)
			return exitFail
		}
		kid, err := keyfile.KIDHex(pub)
		if err != nil {
			fmt.Fprintf(stderr, "printerd keys id: %v\n", err)
			return exitFail
		}
		ids[p] = kid
		if !*asJSON {
			fmt.Fprintf(stdout, "%s  %s\n", kid, p)
		}
	}
	if *asJSON {
		return kvPrintJSON(stdout, stderr, ids)
	}
	return exitOK
}
