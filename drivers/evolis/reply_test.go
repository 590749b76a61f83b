package evolis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cityid/printerd/card"

	"github.com/cityid/printerd/drivers"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		code    drivers.Code
		isReply bool // a *ReplyError
		isProto bool // a protocol error
	}{
		{in: "OK\r", want: "OK"},
		{in: "OK\x00\x00", want: "OK"},
		{in: "\x00\x00OK\r\x00", want: "OK"},
		{in: "5,00 Volts\r", want: "5,00 Volts"},
		{in: "\x06", want: "OK"},
		{in: "ERROR CDE\r", want: "ERROR CDE", code: drivers.BadCommand, isReply: true},
		{in: "ERROR PARAMETRES\r", want: "ERROR PARAMETRES", code: drivers.BadCommand, isReply: true},
		{in: "CARD JAM\r", want: "CARD JAM", code: drivers.CardJam, isReply: true},
		{in: "ERR CARD\r", want: "ERR CARD", code: drivers.CardJam, isReply: true},
		{in: "ERROR RIBBON\r", want: "ERROR RIBBON", code: drivers.RibbonOut, isReply: true},
		{in: "FEEDER EMPTY\r", want: "FEEDER EMPTY", code: drivers.FeederEmpty, isReply: true},
		{in: "NO CARD\r", want: "NO CARD", code: drivers.FeederEmpty, isReply: true},
		{in: "COVER OPEN\r", want: "COVER OPEN", code: drivers.CoverOpen, isReply: true},
		{in: "NEED CLEANING\r", want: "NEED CLEANING", code: drivers.NeedsCleaning, isReply: true},
		{in: "ERR NEED CLEANING\r", want: "ERR NEED CLEANING", code: drivers.NeedsCleaning, isReply: true},
		{in: "HOPPER FULL\r", want: "HOPPER FULL", code: drivers.HopperFull, isReply: true},
		{in: "ERROR HEAD\r", want: "ERROR HEAD", code: drivers.HeadError, isReply: true},
		{in: "ERROR TIME OUT\r", want: "ERROR TIME OUT", code: drivers.Timeout, isReply: true},
		{in: "ERROR MAG DATA\r", want: "ERROR MAG DATA", code: drivers.MagError, isReply: true},
		{in: "ERROR SOMETHING NEW\r", want: "ERROR SOMETHING NEW", code: drivers.Unknown, isReply: true},
		{in: "\x15C", code: drivers.CoverOpen, isReply: true},
		{in: "\x15R", code: drivers.RibbonOut, isReply: true},
		{in: "\x15F", code: drivers.FeederEmpty, isReply: true},
		{in: "\x151", code: drivers.BadCommand, isReply: true},
		{in: "\x15W", code: drivers.MagError, isReply: true},
		{in: "\x15Z", isProto: true},
		{in: "\x15", isProto: true},
		{in: "\x06\x06", isProto: true},
		{in: "", isProto: true},
		{in: "\r\x00", isProto: true},
		{in: "O\xffK\r", isProto: true},
		{in: "\x1bOK\r", isProto: true},
	}
	for _, tt := range tests {
		got, err := ParseReply([]byte(tt.in))
		var re *ReplyError
		switch {
		case tt.isProto:
			if !errors.Is(err, drivers.Protocol) {
				t.Errorf("ParseReply(%q) error = %v, want a protocol error", tt.in, err)
			}
		case tt.isReply:
			if !errors.As(err, &re) || re.Code != tt.code || !errors.Is(err, tt.code) {
				t.Errorf("ParseReply(%q) error = %v, want a ReplyError with code %v", tt.in, err, tt.code)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("ParseReply(%q) = %q, want %q", tt.in, got, tt.want)
			}
		default:
			if err != nil || got != tt.want {
				t.Errorf("ParseReply(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		}
	}
}

func TestParseReplyTooLong(t *testing.T) {
	b := make([]byte, maxReply+1)
	for i := range b {
		b[i] = 'A'
	}
	if _, err := ParseReply(b); !errors.Is(err, drivers.Protocol) {
		t.Fatalf("ParseReply(%d bytes) = %v, want a protocol error", len(b), err)
	}
}

// FuzzParseReply checks that no input panics, and that every answer is
// either a reply text or a classified error.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"OK\r", "CARD JAM\r", "\x15C", "\x06", "5,00 Volts\x00", "", "\x00", "ERROR", "\x15", "YMCKO;150\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseReply(b)
		if err == nil {
			if s == "" {
				t.Fatalf("ParseReply(%q) = empty text without error", b)
			}
			if _, isErr := Classify(s); isErr {
				t.Fatalf("ParseReply(%q) = error string %q without error", b, s)
			}
			return
		}
		var re *ReplyError
		if !errors.As(err, &re) && !errors.Is(err, drivers.Protocol) {
			t.Fatalf("ParseReply(%q) error %v is neither a ReplyError nor a protocol error", b, err)
		}
	})
}

func TestParseRibbon(t *testing.T) {
	tests := []struct {
		in   string
		want string
		left int
	}{
		{"YMCKO;150", "ymcko", 150},
		{"KO", "ko", -1},
		{"ymckok 12", "ymckok", 12},
		{"XYZ", "", -1},
		{"", "", -1},
	}
	for _, tt := range tests {
		r, left := parseRibbon(tt.in)
		if string(r) != tt.want || left != tt.left {
			t.Errorf("parseRibbon(%q) = %q, %d, want %q, %d", tt.in, r, left, tt.want, tt.left)
		}
	}
}

// FuzzPrinterReplies plays arbitrary bytes as a printer's answers to a
// status read and a print: the driver must return (an error or a result),
// never panic or hang.
func FuzzPrinterReplies(f *testing.F) {
	f.Add([]byte("OK\rOK\r5,00 Volts\r5,00 Volts\rYMCKO;9\r"))
	f.Add([]byte("OK\rCARD JAM\r\x15C\x06\x00\x00garbage\xff\r"))
	f.Add([]byte("OK"))
	f.Fuzz(func(t *testing.T, b []byte) {
		opts := Options{ReplyTimeout: 2 * time.Millisecond, MotionTimeout: 2 * time.Millisecond, Quiet: time.Millisecond, MaxResets: -1}
		l := &bytesLink{out: b}
		p := New(l, opts)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := p.Status(ctx)
		if err == nil && st.Ready && len(st.Problems) > 0 && st.Problems[0] != drivers.RibbonLow {
			t.Fatalf("Status ready with problems %v", st.Problems)
		}
		c := card.Card{Ribbon: card.K, Front: card.Side{K: card.NewPlane()}}
		if err := p.Print(ctx, c); err != nil {
			var pe *drivers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Print error %v is not a *drivers.Error", err)
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the driver did not return within its bounds")
		}
	})
}

// bytesLink answers with a fixed byte stream, a few bytes a read, then
// silence; writes and resets succeed.
type bytesLink struct{ out []byte }

func (l *bytesLink) Write(ctx context.Context, p []byte) (int, error) { return len(p), nil }
func (l *bytesLink) Reset(ctx context.Context) error                  { return nil }
func (l *bytesLink) Read(ctx context.Context, p []byte) (int, error) {
	if len(l.out) == 0 {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	n := copy(p[:min(len(p), 7)], l.out)
	l.out = l.out[n:]
	return n, nil
}
