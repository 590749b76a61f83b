package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/diag"
	"github.com/cityid/printerd/drivers/pcsc"
	"github.com/cityid/printerd/drivers/playback"
	"github.com/cityid/printerd/drivers/serial"
	"github.com/cityid/printerd/drivers/usb"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/service"
)

const diagSynopsis = "printerd diag list|status|info|counters|clean|test-card|reset|pause|resume|raw PRINTER [ARG] [--nats URL [--site S] | --device URI [--record FILE]] [--json]\n       printerd diag readers|chip [READER] [--device URI] [--json]"

// cmdDiag is printerd diag: technician diagnostics, through the daemon's
// service (--nats, the default) or directly on a device no daemon holds
// (--device URI). `diag list` lists attached USB printers and serial ports.
func cmdDiag(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("printerd diag", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\n"+
			"With --device the verb runs on the printer at URI (no daemon may hold it; PRINTER is then\n"+
			"only a name and may be left out). Otherwise it is sent to the daemon as a NATS request to\n"+
			"printerd.diag.<site>.<PRINTER>.<verb>. ARG is the ribbon for test-card and the command for\n"+
			"raw (e.g. Rco;p). pause and resume need the daemon.\n\n"+
			"readers lists this host's PC/SC readers (the printers' chip encoders). chip checks the chip\n"+
			"at an encoder station: present, UID, NDEF space used and free, locked; never its content.\n"+
			"Its READER is a reader name (or the start of one), else the reader= of the --device URI, else\n"+
			"the only reader there is. Move a card to the station first, e.g. diag raw Sic --device URI.\n\nflags:\n", diagSynopsis)
		fs.PrintDefaults()
	}
	var nc natsClient
	nc.addFlags(fs)
	device := fs.String("device", "", "printer URI to open directly, e.g. serial:///dev/ttyUSB0?baud=115200")
	site := fs.String("site", "local", "site of the daemon (--nats)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	record := fs.String("record", "", "with --device: write the exchange with the printer to FILE, as a test fixture (testdata/exchanges format)")
	timeout := fs.Duration("timeout", 0, "give up after this long (default 30s; 3m for clean and test-card)")
	pos, status, done := parseArgs(fs, args)
	if done {
		return status
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "printerd diag: %s\n", msg)
		fs.Usage()
		return exitUsage
	}
	if len(pos) == 0 {
		return usageErr("name a verb")
	}
	verb := pos[0]
	fail := func(err error) int {
		fmt.Fprintf(stderr, "printerd diag %s: %v\n", verb, err)
		return exitFail
	}
	if verb == "list" {
		if len(pos) > 1 {
			return usageErr("list takes no printer")
		}
		return diagList(ctx, stdout, *asJSON, fail)
	}
	if verb == "readers" || verb == "chip" {
		if len(pos) > 2 || verb == "readers" && len(pos) > 1 {
			return usageErr("too many arguments")
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		result, err := diagChip(ctx, verb, pos[1:], *device)
		if err != nil {
			return fail(err)
		}
		if err := printResult(stdout, verb, result, *asJSON); err != nil {
			return fail(err)
		}
		return exitOK
	}
	if !validVerb(verb) {
		return usageErr(fmt.Sprintf("unknown verb %q", verb))
	}
	var printer, arg string
	switch {
	case *device != "" && len(pos) == 2 && (verb == "raw" || verb == "test-card"):
		arg = pos[1] // diag raw Rco;p --device URI
	case len(pos) >= 2:
		printer = pos[1]
		if len(pos) == 3 {
			arg = pos[2]
		}
	}
	if len(pos) > 3 {
		return usageErr("too many arguments")
	}
	if verb == "raw" && arg == "" {
		return usageErr("raw needs a command, e.g. Rco;p")
	}
	d := *timeout
	if d <= 0 {
		d = 30 * time.Second
		if verb == "clean" || verb == "test-card" {
			d = 3 * time.Minute
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	var result any
	if *device != "" {
		reg, err := newRegistry(nil)
		if err != nil {
			return fail(err)
		}
		var rec *playback.Record
		var wrap func(drivers.Link) drivers.Link
		if *record != "" {
			wrap = func(l drivers.Link) drivers.Link { rec = &playback.Record{Link: l}; return rec }
		}
		op, err := reg.OpenWrapped(ctx, *device, wrap)
		if err != nil {
			return fail(err)
		}
		defer op.Close()
		result, err = diag.Run(ctx, op.Printer, verb, arg)
		if rec != nil {
			if werr := writeRecording(*record, verb, rec); werr != nil {
				fmt.Fprintf(stderr, "printerd diag %s: %v\n", verb, werr)
			}
		}
		if err != nil {
			return fail(err)
		}
	} else {
		if printer == "" {
			return usageErr("name the PRINTER (as configured in the daemon), or use --device URI")
		}
		if !queue.ValidToken(printer) || !queue.ValidToken(*site) {
			return usageErr("PRINTER and --site are NATS subject tokens: 1-64 letters, digits, '-' or '_'")
		}
		raw, err := diagRemote(ctx, nc, *site, printer, verb, arg)
		if err != nil {
			return fail(err)
		}
		result = raw
	}
	if err := printResult(stdout, verb, result, *asJSON); err != nil {
		return fail(err)
	}
	return exitOK
}

// writeRecording writes a recorded exchange to path (mode 0600: a print's
// magnetic tracks are in it).
func writeRecording(path, verb string, rec *playback.Record) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# printerd diag %s, recorded %s\n", verb, time.Now().UTC().Format(time.RFC3339))
	if err := playback.Format(&b, rec.Ops()); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

func validVerb(v string) bool { return slices.Contains(service.DiagVerbs, v) }

// diagRemote sends the verb to the daemon's diagnostics service and returns
// the result as raw JSON.
func diagRemote(ctx context.Context, n natsClient, site, printer, verb, arg string) (json.RawMessage, error) {
	conn, err := n.Connect("printerd diag")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return service.NewClient(conn, site).Diag(ctx, printer, verb, arg)
}

// printResult writes a result as JSON (--json) or as text.
func printResult(w io.Writer, verb string, result any, asJSON bool) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	}
	// Text: one "key: value" line per field, in a stable order.
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if l, ok := v.([]any); ok {
			parts := make([]string, len(l))
			for i, x := range l {
				parts[i] = fmt.Sprint(x)
			}
			v = strings.Join(parts, ", ")
		}
		if v == nil {
			v = "-"
		}
		fmt.Fprintf(w, "%s: %v\n", k, v)
	}
	return nil
}

// listed is one printer or port `diag list` found.
type listed struct {
	Kind   string `json:"kind"` // "usb" or "serial"
	URI    string `json:"uri"`
	Detail string `json:"detail,omitempty"`
	Info   any    `json:"info,omitempty"`
}

// diagList lists USB printer-class devices and serial ports.
func diagList(ctx context.Context, w io.Writer, asJSON bool, fail func(error) int) int {
	var out []listed
	var notes []string
	// USB hook: drivers/usb (the USB work) finds printer-class devices.
	if ok, why := usb.HasBus(); !ok {
		notes = append(notes, why)
	} else {
		devs, err := usb.List(ctx)
		if err != nil {
			notes = append(notes, "usb: "+err.Error())
		}
		for _, d := range devs {
			detail := strings.TrimSpace(d.Manufacturer + " " + d.Product)
			if d.Problem != "" {
				detail += " (" + d.Problem + ")"
			}
			out = append(out, listed{Kind: "usb", URI: d.URI, Detail: detail, Info: d})
		}
	}
	ports, err := serial.List()
	if err != nil {
		notes = append(notes, err.Error())
	}
	for _, p := range ports {
		detail := p.Product
		if p.USB {
			detail = strings.TrimSpace(fmt.Sprintf("USB serial %s:%s %s", p.VID, p.PID, p.Product))
		}
		out = append(out, listed{Kind: "serial", URI: p.URI(), Detail: detail, Info: p})
	}
	if asJSON {
		b, err := json.Marshal(struct {
			Printers []listed `json:"printers"`
			Notes    []string `json:"notes,omitempty"`
		}{out, notes})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(w, "%s\n", b)
		return exitOK
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(out) == 0 {
		fmt.Fprintln(w, "no USB printers or serial ports found")
	}
	for _, l := range out {
		fmt.Fprintf(w, "%-6s %-40s %s\n", l.Kind, l.URI, l.Detail)
	}
	return exitOK
}

// diagChip runs the local chip verbs: readers (the PC/SC readers) and
// chip (pcsc.Inspect of the chip at a reader: never its content).
func diagChip(ctx context.Context, verb string, args []string, device string) (any, error) {
	if verb == "readers" {
		r, err := pcsc.Readers(ctx)
		if err != nil {
			return nil, err
		}
		return struct {
			Readers []string `json:"readers"`
		}{r}, nil
	}
	var reader string
	if len(args) == 1 {
		reader = args[0]
	} else if device != "" {
		u, err := url.Parse(device)
		if err != nil {
			return nil, fmt.Errorf("--device: %w", err)
		}
		reader = u.Query().Get("reader")
	}
	return pcsc.Inspect(ctx, reader, 3*time.Second)
}
