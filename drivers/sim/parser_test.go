package sim

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Hand-built streams: framing, replies and errors, byte for byte.
func TestReplies(t *testing.T) {
	monoWithCR := make([]byte, monoPanelBytes)
	for i := range monoWithCR {
		monoWithCR[i] = []byte{cr, ';', esc, 0}[i%4] // framing bytes inside the data
	}
	noESC := bytes.Repeat([]byte{cr, ';', 'R', 't', 'p', cr, 0}, 20)
	tests := []struct {
		name string
		in   []byte
		want []string
	}{
		{"identity", join(cmd("Rtp"), cmd("Rsn"), cmd("Rfv"), cmd("Rkn")), []string{"Evolis Primacy", "SIM123456", "1.0.0-sim", "KIT-SIM-300"}},
		{"ESC left out after CR", []byte("\x1bRtp\rRfv\rRkn\r"), []string{"Evolis Primacy", "1.0.0-sim", "KIT-SIM-300"}},
		{"ESC left out at start", []byte("Rtp\r"), []string{"Evolis Primacy"}},
		{"NUL padding and noise skipped", []byte("\x00\x00\x1bRtp\r\x00\x00\x00\x1bRfv\r"), []string{"Evolis Primacy", "1.0.0-sim"}},
		{"ESC restarts after noise", []byte("\x1bRtp\x1bRfv\r"), []string{"ERROR CDE", "1.0.0-sim"}},
		{"ESC ESC", []byte("\x1b\x1b\x1bRtp\r\x1b\x1b"), []string{"Evolis Primacy"}},
		{"ESC cuts a name", []byte("\x1bRt\x1bRtp\r"), []string{"ERROR CDE", "Evolis Primacy"}},
		{"ESC after a bad byte", []byte("\x1bR#\x1bRtp\r"), []string{"ERROR CDE", "Evolis Primacy"}},
		{"CR after CR", []byte("\x1bRtp\r\r\r\x1bRfv\r"), []string{"Evolis Primacy", "1.0.0-sim"}},
		{"unknown command", cmd("Xyz"), []string{"ERROR CDE"}},
		{"empty command", []byte("\x1b\r\x1b;x;y\r"), []string{"ERROR CDE", "ERROR CDE"}},
		{"name too long", []byte("\x1bAbcdefghijk;1\r\x1bRtp\r"), []string{"ERROR CDE", "Evolis Primacy"}},
		{"name with a digit", []byte("\x1bR1p\r"), []string{"ERROR CDE"}},
		{"names are case-sensitive", cmd("rtp"), []string{"ERROR CDE"}},
		{"params too long", join([]byte("\x1bDm;1;"), bytes.Repeat([]byte("A"), 2000), []byte{cr}, cmd("Rtp")), []string{"ERROR PARAMETRES", "Evolis Primacy"}},
		{"Pem", join(cmd("Pem", "2"), cmd("Pem", "9"), cmd("Pem")), []string{"OK", "ERROR PARAMETRES", "ERROR PARAMETRES"}},
		{"Pr", join(cmd("Pr", "ymcko"), cmd("Pr", "ko"), cmd("Pr", "rgb")), []string{"OK", "OK", "ERROR PARAMETRES"}},
		{"status reads", join(cmd("Rlr", "p"), cmd("Rse", "o"), cmd("Rse", "f"), cmd("Rr"), cmd("Rcr"), cmd("Rlr", "x"), cmd("Rse", "z")),
			[]string{"OK", "5,00 Volts", "5,00 Volts", "YMCKO;300", "OK", "ERROR PARAMETRES", "ERROR PARAMETRES"}},
		{"counters", join(cmd("Rco", "p"), cmd("Rco", "c"), cmd("Rco", "n"), cmd("Rco", "r"), cmd("Rco", "l"), cmd("Rco", "q"), cmd("Rco")),
			[]string{"0", "0", "0", "0", "300", "ERROR PARAMETRES", "ERROR PARAMETRES"}},
		{"card in printer", join(cmd("Si"), cmd("Rlr", "p"), cmd("Ser"), cmd("Rlr", "p"), cmd("Rco", "r")), []string{"OK", "CARD", "OK", "OK", "1"}},
		{"mono panel with framing bytes in its data", join(cmd("Ss"), cmd("Sr"), download("k", "2", monoWithCR), cmd("Se"), cmd("Rco", "p")),
			[]string{"OK", "OK", "OK", "OK", "1"}},
		{"Db wrong levels, resync at next ESC", join(download("k", "32", noESC), cmd("Rtp")), []string{"ERROR PARAMETRES", "Evolis Primacy"}},
		{"Db unknown panel", join(download("z", "2", []byte("xx")), cmd("Rtp")), []string{"ERROR PARAMETRES", "Evolis Primacy"}},
		{"Db levels not a number", join([]byte("\x1bDb;k;two;xx\r"), cmd("Rtp")), []string{"ERROR PARAMETRES", "Evolis Primacy"}},
		{"Db without parameters", join([]byte("\x1bDb\r"), cmd("Rtp")), []string{"ERROR PARAMETRES", "Evolis Primacy"}},
		{"Db data longer than the panel", join(download("k", "2", append(make([]byte, monoPanelBytes), 'x', 'y')), cmd("Rtp")), []string{"ERROR PARAMETRES", "Evolis Primacy"}},
		{"Dbc bad count", join([]byte("\x1bDbc;k;2;abc;\x00\r"), cmd("Rtp")), []string{"ERROR PARAMETRES", "Evolis Primacy"}},
		{"Dbc malformed data", join(dbc("k", "2", "", []byte{0x52, 0x00}), cmd("Rtp")), []string{"ERROR PARAMETRES", "Evolis Primacy"}},
		{"Dbc mono, all white", join(cmd("Ss"), dbc("k", "2", "", make([]byte, lines)), cmd("Se")), []string{"OK", "OK", "OK"}},
		{"Dbc mono, four parameters", join(cmd("Ss"), dbc("k", "2", "16", bytes.Repeat([]byte{0xFF}, lines-16)), cmd("Se")), []string{"OK", "OK", "OK"}},
		{"Dbc colour, blank lines", join(cmd("Ss"), dbc("y", "32", "", bytes.Repeat([]byte{0x80, 0x00}, lines)), cmd("Se")), []string{"OK", "OK", "OK"}},
		{"mag", join(cmd("Pmc", "h"), cmd("Pmt", "1", "1"), cmd("Dm", "1", "CITY;ID"), cmd("Dm", "2", "12=34"), cmd("Dm", "2", "12A"), cmd("Dm", "1", "lower"),
			cmd("Ss"), cmd("Smw"), cmd("Smr"), cmd("Rmb", "1"), cmd("Rmb", "2"), cmd("Rmb", "3"), cmd("Se"), cmd("Pmt", "4", "1"), cmd("Pmc", "x")),
			[]string{"OK", "OK", "OK", "OK", "ERROR MAG DATA", "ERROR MAG DATA", "OK", "OK", "OK", "CITY;ID", "12=34", "", "OK", "ERROR PARAMETRES", "ERROR PARAMETRES"}},
		{"Smr without card", cmd("Smr"), []string{"NO CARD"}},
		{"cleaning", join(cmd("Scp"), cmd("Rco", "n")), []string{"OK", "1"}},
		{"truncated at end of stream", download("k", "2", make([]byte, 100)), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Options{Serial: "SIM123456"})
			got := converse(t, d, tc.in)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("replies\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// dbc frames Dbc;<panel>;<levels>;<count>[;<first>];<data> CR.
func dbc(panelName, levels, first string, data []byte) []byte {
	b := []byte("\x1bDbc;" + panelName + ";" + levels + ";" + itoa(len(data)) + ";")
	if first != "" {
		b = append(b, first+";"...)
	}
	b = append(b, data...)
	return append(b, cr)
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}

// A payload that stops coming is answered ERROR TIME OUT after the read
// time-out, and the printer then takes the next command.
func TestTruncatedPayloadTimesOut(t *testing.T) {
	d := New(Options{ReadTimeout: 50 * time.Millisecond})
	l := d.Connect()
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.Write(ctx, download("k", "2", make([]byte, 1000))[:1000]); err != nil {
		t.Fatal(err)
	}
	if got := readReply(t, ctx, l); got != "ERROR TIME OUT" {
		t.Fatalf("reply %q, want ERROR TIME OUT", got)
	}
	if _, err := l.Write(ctx, cmd("Rtp")); err != nil {
		t.Fatal(err)
	}
	if got := readReply(t, ctx, l); got != "Evolis Primacy" {
		t.Fatalf("reply after time-out %q, want the model", got)
	}
}

func readReply(t *testing.T, ctx context.Context, l *Link) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 64)
	for !bytes.HasSuffix(got, []byte{cr}) {
		n, err := l.Read(ctx, buf)
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	return strings.TrimSuffix(string(got), "\r")
}

// FuzzServe feeds arbitrary bytes to the printer: it must neither panic nor
// hang, and every reply must end in CR.
func FuzzServe(f *testing.F) {
	f.Add([]byte("\x1bRtp\r"))
	f.Add(join(cmd("Pem", "2"), cmd("Ss"), download("k", "2", make([]byte, monoPanelBytes)), cmd("Se")))
	f.Add(join(cmd("Ss"), dbc("y", "32", "", bytes.Repeat([]byte{0x80, 0x00}, lines)), cmd("Se")))
	f.Add(join(dbc("k", "2", "5", bytes.Repeat([]byte{0x00}, lines-5))))
	f.Add([]byte("\x1bDbc;c;64;10;1;\xff\x05\x80\r"))
	f.Add([]byte("\x1bDm;1;ABC\r\x1bSmw\r\x1bSmr\r\x1bRmb;1\r\x00\x00"))
	f.Add([]byte("Srs\rScs\rSer\rSi\rSe\rScp\r"))
	f.Add([]byte("\x1b\x1b\x1b#\x1b;\x1b"))
	f.Fuzz(func(t *testing.T, in []byte) {
		d := New(Options{ReadTimeout: 10 * time.Millisecond, Faults: Faults{Jam: []Trigger{{Stage: StageK}}}})
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := d.Serve(ctx, struct {
			*bytes.Reader
			w
		}{bytes.NewReader(in), w{&out}})
		if err != nil {
			t.Fatalf("Serve: %v (hang or failure)", err)
		}
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte{cr}) {
			t.Fatalf("replies %q do not end in CR", out.Bytes())
		}
	})
}

// w hides bytes.Buffer's Read so that the struct above is an unambiguous
// io.ReadWriter.
type w struct{ b *bytes.Buffer }

func (x w) Write(p []byte) (int, error) { return x.b.Write(p) }

// The debug log names commands and status replies, never parameters,
// payloads or values read back (magnetic data may be personal).
func TestLogCarriesNoData(t *testing.T) {
	var logs bytes.Buffer
	d := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	converse(t, d, join(cmd("Dm", "1", "SECRET NAME"), cmd("Si"), cmd("Smw"), cmd("Smr"), cmd("Rmb", "1"), cmd("Dm", "2", "98765"), cmd("Xx", "SECRET")))
	if s := logs.String(); strings.Contains(s, "SECRET") || strings.Contains(s, "98765") || !strings.Contains(s, "command=Rmb") {
		t.Fatalf("log:\n%s", s)
	}
}
