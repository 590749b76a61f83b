// Command mkdocs writes printerd's man pages, bash and zsh completion and
// the reference of its configuration keys from the help the printerd binary
// prints, so that they say what that binary does. scripts/package.sh runs
// it on the binary it packages:
//
//	go run ./internal/cmd/mkdocs --bin dist/build/printerd --out dist/build --version 1.2.3
//
// It writes OUT/man/printerd.8.gz and OUT/man/printerd-<command>.8.gz,
// OUT/completion/printerd.bash and OUT/completion/_printerd, and
// OUT/README.config. The pages are dated from $SOURCE_DATE_EPOCH and
// gzipped without a timestamp, so the same binary gives the same bytes.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cityid/printerd/internal/helpdoc"
)

func main() {
	bin := flag.String("bin", "", "the printerd binary whose help is documented")
	out := flag.String("out", "", "output directory")
	version := flag.String("version", "dev", "version shown in the pages' footer")
	flag.Parse()
	if *bin == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mkdocs --bin PRINTERD --out DIR [--version V]")
		os.Exit(2)
	}
	if err := run(context.Background(), *bin, *out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "mkdocs:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, out, version string) error {
	date := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("mkdocs: SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
		}
		date = time.Unix(sec, 0).UTC()
	}
	root, err := Collect(ctx, bin)
	if err != nil {
		return err
	}
	page := helpdoc.Page{Version: "printerd " + version, Date: date.Format("2006-01-02")}
	for _, d := range []string{"man", "completion"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return fmt.Errorf("mkdocs: %w", err)
		}
	}
	var seeAlso []string
	for _, c := range root.Subs {
		seeAlso = append(seeAlso, c.Name()+"(8)")
	}
	top := page
	top.Description = "prints municipal identity cards: the daemon and its operator commands"
	top.Sections = []helpdoc.Section{{
		Title: "Files",
		Items: [][2]string{
			{"/etc/printerd/printerd.json", "the daemon's configuration (printerd run --config); every key is described in /etc/printerd/README and printerd-run(8)"},
			{"/etc/printerd/keys/issuer.key", "the issuer key that signs card barcodes (root's, mode 0600); the service reads it through systemd's LoadCredential="},
			{"/etc/printerd/approvers/", "the trusted approver public keys (*.pub); systemctl reload printerd re-reads them"},
			{"/var/lib/printerd/", "the JetStream store and its encryption key (jetstream.key)"},
			{"/lib/udev/rules.d/60-printerd.rules", "gives group printerd the card printers and serial adapters"},
			{"/usr/share/doc/printerd/", "README.Debian, Prometheus alert rules and a Grafana dashboard"},
		},
	}}
	top.SeeAlso = append(seeAlso, "systemctl(1)")
	if err := writeGz(filepath.Join(out, "man", "printerd.8.gz"), helpdoc.Man(root, top)); err != nil {
		return err
	}
	for _, c := range root.Subs {
		p := page
		p.SeeAlso = []string{"printerd(8)"}
		if err := writeGz(filepath.Join(out, "man", c.Name()+".8.gz"), helpdoc.Man(c, p)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(out, "completion", "printerd.bash"), helpdoc.Bash(root), 0o644); err != nil {
		return fmt.Errorf("mkdocs: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "completion", "_printerd"), helpdoc.Zsh(root), 0o644); err != nil {
		return fmt.Errorf("mkdocs: %w", err)
	}
	for _, c := range root.Subs {
		if c.Path == "printerd run" {
			return os.WriteFile(filepath.Join(out, "README.config"), configReference(c), 0o644)
		}
	}
	return errors.New("mkdocs: printerd --help lists no run command")
}

// Collect runs bin --help, then "bin CMD --help" for every command it
// lists and "bin CMD VERB --help" for every verb a command lists under
// "verbs:", and parses them.
func Collect(ctx context.Context, bin string) (*helpdoc.Command, error) {
	help, err := helpOf(ctx, bin)
	if err != nil {
		return nil, err
	}
	root := helpdoc.Parse("printerd", help)
	if len(root.Verbs) == 0 {
		return nil, fmt.Errorf("mkdocs: %s --help lists no command", bin)
	}
	for _, v := range root.Verbs {
		help, err := helpOf(ctx, bin, v.Name)
		if err != nil {
			return nil, err
		}
		c := helpdoc.Parse("printerd "+v.Name, help)
		c.Summary = v.Summary
		if strings.Contains(help, "verbs:") {
			for _, sv := range c.Verbs {
				h, err := helpOf(ctx, bin, v.Name, sv.Name)
				if err != nil {
					continue // a verb without its own --help is described by its parent
				}
				s := helpdoc.Parse("printerd "+v.Name+" "+sv.Name, h)
				s.Summary = sv.Summary
				c.Subs = append(c.Subs, s)
			}
		}
		root.Subs = append(root.Subs, c)
	}
	return root, nil
}

// helpOf runs "bin ARGS... --help" and returns what it printed; the help
// must exit 0.
func helpOf(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--help")...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"} // no PRINTERD_* defaults leak into the pages
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mkdocs: %s %s --help: %w\n%s", bin, strings.Join(args, " "), err, b.String())
	}
	return b.String(), nil
}

// configReference documents every key of /etc/printerd/printerd.json from
// printerd run's flags (each flag is a key and a PRINTERD_* variable).
func configReference(run *helpdoc.Command) []byte {
	var b bytes.Buffer
	b.WriteString(`printerd configuration (/etc/printerd/printerd.json)
=====================================================

Generated from "printerd run --help"; see also printerd-run(8).

printerd.json is JSON, which has no comments, so the keys are described here.
The service runs "printerd run --config /etc/printerd/printerd.json" as user
printerd. Every key is also a flag of printerd run and a PRINTERD_* variable
(set one with "systemctl edit printerd": [Service] Environment=PRINTERD_SITE=x).
Precedence: flags > environment > config file > defaults. Unknown keys are an
error. "systemctl reload printerd" (SIGHUP) applies approver-keys, log-level
and held-retention; other changes need "systemctl restart printerd", which
finishes the card in each printer first.

What the package sets up:
  state           not set: systemd's StateDirectory, /var/lib/printerd
  issuer-key      /run/credentials/printerd.service/issuer.key, the copy of
                  /etc/printerd/keys/issuer.key that systemd's LoadCredential=
                  gives the service (the file itself stays root's, mode 0600)
  approver-keys   /etc/printerd/approvers (*.pub)
  printer         usb://auto?name=desk1: the first USB card printer

Keys:

`)
	for _, f := range run.Flags {
		if f.Name == "config" {
			continue
		}
		kind := f.Arg
		switch {
		case f.Name == "printer":
			kind = "list of strings"
		case kind == "value":
			kind = "duration string, e.g. \"72h\""
		}
		fmt.Fprintf(&b, "  %q (%s)\n", f.Name, kind)
		for _, l := range wrap(f.Usage, 72) {
			fmt.Fprintf(&b, "      %s\n", l)
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

func wrap(s string, width int) []string {
	var out []string
	var cur string
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > width {
			out = append(out, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// writeGz writes data gzipped with no name and no time in the header.
func writeGz(path string, data []byte) error {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return fmt.Errorf("mkdocs: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("mkdocs: %w", err)
	}
	return nil
}
