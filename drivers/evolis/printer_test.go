package evolis

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/playback"
	"github.com/cityid/printerd/drivers/sim"
)

var update = flag.Bool("update", false, "rewrite the generated fixtures in testdata/exchanges")

const exchanges = "../../testdata/exchanges"

// fast are options for tests: short time-outs, so that silences cost little.
var fast = Options{ReplyTimeout: 100 * time.Millisecond, MotionTimeout: 200 * time.Millisecond, Quiet: 10 * time.Millisecond}

func replay(t *testing.T, name string) *playback.Playback {
	t.Helper()
	pb, err := playback.Open(filepath.Join(exchanges, name))
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

func TestStatusPlayback(t *testing.T) {
	tests := []struct {
		file     string
		ready    bool
		problems []drivers.Code
		left     int
	}{
		{"status-ready.txt", true, nil, 150},
		{"status-problems.txt", false, []drivers.Code{drivers.CoverOpen, drivers.FeederEmpty, drivers.RibbonOut}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			pb := replay(t, tt.file)
			st, err := New(pb, fast).Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Ready != tt.ready || !slices.Equal(st.Problems, tt.problems) || st.RibbonLeft != tt.left {
				t.Errorf("Status = %+v, want ready=%v problems=%v left=%d", st, tt.ready, tt.problems, tt.left)
			}
			if err := pb.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestInfoPlayback(t *testing.T) {
	for _, file := range []string{"info.txt", "info-silent-then-reset.txt"} {
		t.Run(file, func(t *testing.T) {
			pb := replay(t, file)
			info, err := New(pb, fast).Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := drivers.Info{Model: "Dualys3", Serial: "D3A0001234", Firmware: "V2.05", Ribbon: card.KO}
			if info != want {
				t.Errorf("Info = %+v, want %+v", info, want)
			}
			if err := pb.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestPlaybackCatchesUnexpectedBytes makes sure the fixtures would catch a
// driver that sends something else.
func TestPlaybackCatchesUnexpectedBytes(t *testing.T) {
	pb := replay(t, "status-ready.txt")
	p := New(pb, fast)
	if _, err := p.Info(context.Background()); err == nil {
		t.Fatal("Info against the status recording succeeded")
	}
	if err := pb.Close(); err == nil {
		t.Fatal("Close after a mismatch returned nil")
	}
	pb = replay(t, "status-ready.txt")
	if _, err := New(pb, fast).Counters(context.Background()); err == nil {
		t.Fatal("Counters against the status recording succeeded")
	}
	// A recording whose end never happened fails Close.
	pb = replay(t, "info.txt")
	if err := pb.Close(); err == nil {
		t.Fatal("Close of an unplayed recording returned nil")
	}
}

// fixture returns the playback of a recorded fixture. With -update it
// records it first: a print of card on drivers/sim with the given faults.
func fixture(t *testing.T, name, comment string, c card.Card, opts Options, faults string) *playback.Playback {
	t.Helper()
	path := filepath.Join(exchanges, name)
	if *update {
		f, err := sim.ParseFaults(faults)
		if err != nil {
			t.Fatal(err)
		}
		link := sim.New(sim.Options{Ribbon: c.Ribbon, Faults: f}).Connect()
		defer link.Close()
		rec := &playback.Record{Link: link}
		_ = New(rec, opts).Print(context.Background(), c)
		var b bytes.Buffer
		b.WriteString(comment)
		if err := playback.Format(&b, rec.Ops()); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return replay(t, name)
}

func TestPrintPlayback(t *testing.T) {
	ko := testCard(card.KO)
	duplex := testCard(card.YMCKO)
	duplex.Back = &card.Side{K: ko.Front.K}
	duplex.Mag = [3]string{"CITY ID", "0001=2512", ""}
	tests := []struct {
		file, comment string
		card          card.Card
		compress      bool
		faults        string
		code          drivers.Code
		feed          drivers.Feed
		ok            bool
	}{
		{"print-ko-card.txt", "# A KO card, compressed, printed without trouble (recorded from drivers/sim).\n", ko, true, "", 0, 0, true},
		{"print-ymcko-duplex-mag.txt", "# A two-sided YMCKO card with tracks 1 and 2, uncompressed (recorded from drivers/sim).\n", duplex, false, "", 0, 0, true},
		{"print-ymcko-cover-open.txt", "# A YMCKO card whose cover opens while M prints (recorded from drivers/sim with cover-open=m).\n", duplex, true, "cover-open=m", drivers.CoverOpen, drivers.AfterFeed, false},
		{"print-ko-jam.txt", "# A KO card that jams while K prints: the printer answers the O download\n# with CARD JAM (recorded from drivers/sim with jam=k).\n", ko, true, "jam=k", drivers.CardJam, drivers.AfterFeed, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			opts := fast
			opts.Compress = tt.compress
			pb := fixture(t, tt.file, tt.comment, tt.card, opts, tt.faults)
			err := New(pb, opts).Print(context.Background(), tt.card)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				var pe *drivers.Error
				if !errors.As(err, &pe) || pe.Code != tt.code || pe.Feed != tt.feed || !errors.Is(err, tt.code) {
					t.Fatalf("Print = %v, want code %v feed %v", err, tt.code, tt.feed)
				}
			}
			if err := pb.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// scriptLink is a printer whose answer to the n-th command (1-based, Pem;2
// included) is scripted: a reply, silence, or a dead link.
type scriptLink struct {
	mu      sync.Mutex
	names   []string
	resets  int
	pending []byte
	silent  bool
	dead    bool
	script  func(n int, name string) (reply string, silent, dead bool)
	mag     [3]string // tracks loaded with Dm, which Rmb reads back
}

func (l *scriptLink) Write(ctx context.Context, p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead {
		return 0, io.ErrClosedPipe
	}
	name := commandName(p)
	if name == "Db" || name == "Dbc" {
		name += ";" + string(p[len(name)+2])
	}
	l.names = append(l.names, name)
	r, silent, dead := "OK\r", false, false
	if args := strings.SplitN(strings.TrimSuffix(string(p[1:]), "\r"), ";", 3); name == "Dm" && len(args) == 3 {
		if n, err := strconv.Atoi(args[1]); err == nil && n >= 1 && n <= 3 {
			l.mag[n-1] = args[2]
		}
	} else if name == "Rmb" && len(args) == 2 {
		if n, err := strconv.Atoi(args[1]); err == nil && n >= 1 && n <= 3 {
			r = l.mag[n-1] + "\r"
		}
	}
	if l.script != nil {
		if sr, s, d := l.script(len(l.names), name); sr != "" || s || d {
			r, silent, dead = sr, s, d
		}
	}
	l.silent, l.dead = silent, dead
	if !silent && !dead {
		l.pending = []byte(r)
	}
	return len(p), nil
}

func (l *scriptLink) Read(ctx context.Context, p []byte) (int, error) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return 0, io.EOF
	}
	if len(l.pending) > 0 {
		defer l.mu.Unlock()
		n := copy(p, l.pending)
		l.pending = l.pending[n:]
		return n, nil
	}
	l.mu.Unlock()
	<-ctx.Done()
	return 0, ctx.Err()
}

func (l *scriptLink) Reset(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resets++
	l.dead, l.silent, l.pending = false, false, nil
	return nil
}

// at scripts one answer at the command named name (its first occurrence, or
// the occurrence-th).
func at(name string, occurrence int, reply string, silent, dead bool) func(int, string) (string, bool, bool) {
	seen := 0
	return func(n int, got string) (string, bool, bool) {
		if got == name {
			seen++
			if seen == occurrence {
				return reply, silent, dead
			}
		}
		return "", false, false
	}
}

func TestPrintFeed(t *testing.T) {
	tests := []struct {
		name   string
		mag    bool
		script func(int, string) (string, bool, bool)
		code   drivers.Code
		feed   drivers.Feed
		resets int
	}{
		{"ribbon out at Pr", false, at("Pr", 1, "ERROR RIBBON\r", false, false), drivers.RibbonOut, drivers.BeforeFeed, 0},
		{"cover open at Ss", false, at("Ss", 1, "COVER OPEN\r", false, false), drivers.CoverOpen, drivers.BeforeFeed, 0},
		{"silent at Pem", false, at("Pem", 1, "", true, false), drivers.Timeout, drivers.BeforeFeed, 1},
		{"dead at Sr", false, at("Sr", 1, "", false, true), drivers.Offline, drivers.BeforeFeed, 1},
		{"feeder empty at first Db", false, at("Dbc;k", 1, "FEEDER EMPTY\r", false, false), drivers.FeederEmpty, drivers.BeforeFeed, 0},
		{"jam at first Db", false, at("Dbc;k", 1, "CARD JAM\r", false, false), drivers.CardJam, drivers.FeedUnknown, 0},
		{"silent at first Db", false, at("Dbc;k", 1, "", true, false), drivers.Timeout, drivers.FeedUnknown, 1},
		{"jam at second Db", false, at("Dbc;o", 1, "CARD JAM\r", false, false), drivers.CardJam, drivers.AfterFeed, 0},
		{"cover open at Se", false, at("Se", 1, "COVER OPEN\r", false, false), drivers.CoverOpen, drivers.AfterFeed, 0},
		{"dead mid-card", false, at("Dbc;o", 1, "", false, true), drivers.Offline, drivers.AfterFeed, 1},
		{"silent at Se", false, at("Se", 1, "", true, false), drivers.Timeout, drivers.AfterFeed, 1},
		{"garbage mid-card", false, at("Dbc;o", 1, "\xff\xfe\x01\r", false, false), drivers.Protocol, drivers.AfterFeed, 1},
		{"feeder empty at Smw", true, at("Smw", 1, "FEEDER EMPTY\r", false, false), drivers.FeederEmpty, drivers.BeforeFeed, 0},
		{"mag error at Smw", true, at("Smw", 1, "ERROR MAG\r", false, false), drivers.MagError, drivers.AfterFeed, 0},
		{"jam after Smw", true, at("Dbc;k", 1, "CARD JAM\r", false, false), drivers.CardJam, drivers.AfterFeed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &scriptLink{script: tt.script}
			c := testCard(card.KO)
			if tt.mag {
				c.Mag[1] = "1234567890=2512"
			}
			opts := fast
			opts.Compress = true
			err := New(l, opts).Print(context.Background(), c)
			var pe *drivers.Error
			if !errors.As(err, &pe) || pe.Code != tt.code || pe.Feed != tt.feed {
				t.Fatalf("Print = %v (%#v), want code %v feed %v", err, pe, tt.code, tt.feed)
			}
			if got := drivers.Fed(err); got != (tt.feed != drivers.BeforeFeed) {
				t.Errorf("drivers.Fed = %v", got)
			}
			if l.resets != tt.resets {
				t.Errorf("link resets = %d, want %d", l.resets, tt.resets)
			}
		})
	}
}

func TestPrintSequence(t *testing.T) {
	l := &scriptLink{}
	c := testCard(card.YMCKO)
	c.Back = &card.Side{K: c.Front.K}
	c.Mag = [3]string{"TEST CARD", "", "0123"}
	p := New(l, fast)
	if err := p.Print(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	want := []string{"Pem", "Pr", "Ss", "Pmt", "Dm", "Pmt", "Dm", "Smw", "Smr", "Rmb", "Rmb", "Sr", "Db;y", "Db;m", "Db;c", "Db;k", "Db;o", "Sv", "Db;y", "Db;m", "Db;c", "Db;k", "Db;o", "Se"}
	if !slices.Equal(l.names, want) {
		t.Fatalf("commands %v, want %v", l.names, want)
	}
	// A second card reuses the session: no second Pem.
	l.names = nil
	if err := p.Print(context.Background(), testCard(card.YMCKO)); err != nil {
		t.Fatal(err)
	}
	if l.names[0] != "Pr" {
		t.Errorf("second card starts with %s, want Pr", l.names[0])
	}
}

func TestPrintRefusesBadCards(t *testing.T) {
	bad := testCard(card.KO)
	bad.Mag[0] = "lower case"
	wrongSize := testCard(card.KO)
	wrongSize.Front.K = image.NewGray(image.Rect(0, 0, 648, 1016))
	tests := []struct {
		name string
		card card.Card
		opts Options
	}{
		{"bad track 1", bad, fast},
		{"wrong plane size", wrongSize, fast},
		{"ribbon mismatch", testCard(card.KO), Options{Ribbon: card.YMCKO}},
		{"bad ribbon", card.Card{Ribbon: "rgb"}, fast},
		{"bad levels", testCard(card.YMCKO), Options{Levels: 48}},
	}
	for _, tt := range tests {
		l := &scriptLink{}
		err := New(l, tt.opts).Print(context.Background(), tt.card)
		if !errors.Is(err, drivers.BadCommand) || drivers.Fed(err) {
			t.Errorf("%s: Print = %v, want BadCommand before feed", tt.name, err)
		}
		if len(l.names) != 0 {
			t.Errorf("%s: sent %v to the printer", tt.name, l.names)
		}
	}
}

func TestQueryRetriesBounded(t *testing.T) {
	l := &scriptLink{script: func(n int, name string) (string, bool, bool) { return "", true, false }}
	opts := fast
	opts.MaxResets = 2
	_, err := New(l, opts).Status(context.Background())
	if !errors.Is(err, drivers.Timeout) {
		t.Fatalf("Status = %v, want a time-out", err)
	}
	// Three attempts of Pem;2 with a link reset and an Srs between them.
	want := []string{"Pem", "Srs", "Pem", "Srs", "Pem"}
	if !slices.Equal(l.names, want) || l.resets != 2 {
		t.Errorf("sent %v with %d resets, want %v and 2", l.names, l.resets, want)
	}
}

func TestCountersAndRaw(t *testing.T) {
	l := &scriptLink{script: func(n int, name string) (string, bool, bool) {
		switch n {
		case 2:
			return "1234\r", false, false
		case 3:
			return "56\r", false, false
		case 4:
			return "ERROR PARAMETRES\r", false, false
		case 5:
			return "3\r", false, false
		case 6:
			return "ERROR CDE\r", false, false
		}
		return "", false, false
	}}
	p := New(l, fast)
	c, err := p.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c != (drivers.Counters{Printed: 1234, SinceCleaning: 56, Cleanings: 0, Rejected: 3}) {
		t.Errorf("Counters = %+v", c)
	}
	reply, err := p.Raw(context.Background(), "Xyz;1")
	if err != nil || reply != "ERROR CDE" {
		t.Errorf("Raw = %q, %v; want the error string and nil", reply, err)
	}
	if _, err := p.Raw(context.Background(), "Rtp\r\x1bSe"); err == nil {
		t.Error("Raw accepted CR and ESC inside the command")
	}
}

// TestStatusDuringPrint checks that Status answers Busy at once while a
// card prints, without a command to the printer.
func TestStatusDuringPrint(t *testing.T) {
	hold := make(chan struct{})
	l := &scriptLink{}
	l.script = func(n int, name string) (string, bool, bool) {
		if name == "Se" {
			<-hold // the printer takes its time with the last panel
		}
		return "", false, false
	}
	p := New(l, Options{ReplyTimeout: time.Second, MotionTimeout: 5 * time.Second})
	done := make(chan error, 1)
	go func() { done <- p.Print(context.Background(), testCard(card.K)) }()
	for !p.printing.Load() {
		time.Sleep(time.Millisecond)
	}
	st, err := p.Status(context.Background())
	close(hold)
	if err != nil || !st.Busy || st.Ready {
		t.Fatalf("Status during Print = %+v, %v; want busy", st, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if slices.Contains(l.names, "Rlr") {
		t.Errorf("Status sent commands during the print: %v", l.names)
	}
}

// TestEncodingFailureSpoils: a stripe that reads back other than written
// spoils the card: it goes to the reject tray (Ser), the error is
// EncodeFailed after feed, and nothing is printed on it. A chip card on a
// printer without an encoder is refused before anything moves.
func TestEncodingFailureSpoils(t *testing.T) {
	l := &scriptLink{script: at("Rmb", 1, "1234567890=2513\r", false, false)}
	c := testCard(card.KO)
	c.Mag[1] = "1234567890=2512"
	err := New(l, fast).Print(context.Background(), c)
	var pe *drivers.Error
	if !errors.As(err, &pe) || pe.Code != drivers.EncodeFailed || pe.Feed != drivers.AfterFeed || !errors.Is(err, ErrMagReadBack) {
		t.Fatalf("Print = %v, want encode-failed after feed (read back differs)", err)
	}
	if strings.Contains(err.Error(), "2512") || strings.Contains(err.Error(), "2513") {
		t.Errorf("the error shows track data: %v", err)
	}
	want := []string{"Pem", "Pr", "Ss", "Pmt", "Dm", "Smw", "Smr", "Rmb", "Ser"}
	if !slices.Equal(l.names, want) {
		t.Errorf("commands %v, want %v", l.names, want)
	}

	l = &scriptLink{}
	c = testCard(card.KO)
	c.Chip = &card.ChipPayload{Interface: card.Contactless, NDEF: []byte{0xd4, 0, 0}}
	err = New(l, fast).Print(context.Background(), c)
	if !errors.As(err, &pe) || pe.Code != drivers.BadCommand || pe.Feed != drivers.BeforeFeed || !strings.Contains(err.Error(), "no chip encoder") {
		t.Fatalf("chip card without encoder: Print = %v", err)
	}
	if len(l.names) != 0 {
		t.Errorf("commands sent: %v", l.names)
	}
}
