package playback

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const sample = `# comment
> "\x1bRtp\r"
< "Dualys3\r"
> "\x1bDb;k;2;"
> blob 5 sha256:` + "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" + `
> "\r"
< silence
= reset
`

func TestParseAndPlay(t *testing.T) {
	ops, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 7 || ops[3].Kind != Blob || ops[3].Len != 5 {
		t.Fatalf("Parse = %v", ops)
	}
	pb := New(ops)
	ctx := context.Background()
	// Writes may be split or joined freely.
	if _, err := pb.Write(ctx, []byte("\x1bRt")); err != nil {
		t.Fatal(err)
	}
	if _, err := pb.Write(ctx, []byte("p\r")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	var got []byte
	for len(got) < len("Dualys3\r") {
		n, err := pb.Read(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "Dualys3\r" {
		t.Fatalf("read %q", got)
	}
	if _, err := pb.Write(ctx, []byte("\x1bDb;k;2;hello\r")); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if _, err := pb.Read(rctx, buf); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silence read = %v", err)
	}
	cancel()
	if err := pb.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestPlaybackFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(pb *Playback) error
		want string
	}{
		{"wrong byte", func(pb *Playback) error { _, err := pb.Write(ctx, []byte("\x1bRtx\r")); return err }, "byte 3"},
		{"read too early", func(pb *Playback) error { _, err := pb.Read(ctx, make([]byte, 8)); return err }, "expects"},
		{"reset too early", func(pb *Playback) error { return pb.Reset(ctx) }, "resets the link"},
		{"wrong blob", func(pb *Playback) error {
			pb.Write(ctx, []byte("\x1bRtp\r"))
			pb.Read(ctx, make([]byte, 64))
			_, err := pb.Write(ctx, []byte("\x1bDb;k;2;HELLO\r"))
			return err
		}, "sha256 differs"},
		{"never finished", func(pb *Playback) error { pb.Write(ctx, []byte("\x1bRtp\r")); return pb.Close() }, "never happened"},
	}
	for _, tt := range tests {
		ops, _ := Parse(strings.NewReader(sample))
		pb := New(ops)
		err := tt.run(pb)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
		if pb.Close() == nil {
			t.Errorf("%s: Close after a failure returned nil", tt.name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{`> Rtp`, `< ""`, `> blob x sha256:00`, `> blob 3 sha256:zz`, `? "x"`, `>"x"`} {
		if _, err := Parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Parse(%q) = %v, want an error naming line 1", in, err)
		}
	}
}

// TestRecordRoundTrip records an exchange through a Playback, formats it,
// and replays the result.
func TestRecordRoundTrip(t *testing.T) {
	ctx := context.Background()
	payload := bytes.Repeat([]byte{0xAA, '\r', ';'}, 200)
	ops := []Op{
		{Kind: Write, Data: []byte("\x1bPem;2\r")}, {Kind: Reply, Data: []byte("OK\r")},
		{Kind: Write, Data: append(append([]byte("\x1bDb;k;2;"), payload...), '\r', 0, 0)}, {Kind: Reply, Data: []byte("OK\r")},
	}
	rec := &Record{Link: New(ops)}
	rec.Write(ctx, []byte("\x1bPem;2\r"))
	rec.Read(ctx, make([]byte, 16))
	rec.Write(ctx, append(append([]byte("\x1bDb;k;2;"), payload...), '\r', 0, 0))
	rec.Read(ctx, make([]byte, 16))
	var b bytes.Buffer
	if err := Format(&b, rec.Ops()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `> "\x1bDb;k;2;"`+"\n> blob 600 sha256:") {
		t.Fatalf("recording does not keep the payload as a blob:\n%s", b.String())
	}
	again, err := Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	pb := New(again)
	pb.Write(ctx, []byte("\x1bPem;2\r"))
	pb.Read(ctx, make([]byte, 16))
	pb.Write(ctx, append(append([]byte("\x1bDb;k;2;"), payload...), '\r', 0, 0))
	pb.Read(ctx, make([]byte, 16))
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzParse checks that any fixture text parses or fails with an error, and
// that what parses formats and parses back to the same operations.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("> \"\\x00\"\n< silence\n= reset\n")
	f.Add("> blob 1 sha256:" + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, in string) {
		ops, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Format(&b, ops); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(&b)
		if err != nil || len(again) != len(ops) {
			t.Fatalf("formatted ops do not parse back: %v", err)
		}
		for i := range ops {
			if ops[i].String() != again[i].String() {
				t.Fatalf("op %d: %s became %s", i, ops[i], again[i])
			}
		}
	})
}
