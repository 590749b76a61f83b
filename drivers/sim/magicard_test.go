package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// mcConverse runs a Magicard device on a fixed input and returns what it
// sent.
func mcConverse(t *testing.T, d *Magicard, in []byte) string {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Serve(ctx, struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(in), &out}); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	d.Wait()
	return out.String()
}

// handJob frames one page by hand from the notes, not from the driver:
// 64 x 0x05, SOH ',', header, 0x1C, each plane with 0x1C <letter> ':',
// ETX.
func handJob(header string, planes map[byte][]byte, order string) []byte {
	b := append(bytes.Repeat([]byte{0x05}, 64), 0x01, ',')
	b = append(b, header...)
	b = append(b, 0x1C)
	for i := 0; i < len(order); i++ {
		b = append(b, planes[order[i]]...)
		b = append(b, 0x1C, order[i], ':')
	}
	return append(b, 0x03)
}

// TestMagicardHandJob prints a K-only KGE page built by hand with one dot
// set where the notes put head dot 300 (q = 12: byte 4*0+3 = 3, mask
// 0x80>>(2*0+1) = 0x40) on line 10, and checks where the simulator puts
// it: image dot 300-15 = 285 at P = 50, turned 180 degrees on KGE, so
// design (1015-10, 644-285).
func TestMagicardHandJob(t *testing.T) {
	d := NewMagicard(MagicardOptions{Layout: MagicardKGE})
	k := make([]byte, 96*1016)
	k[10*96+3] = 0x40
	hdr := fmt.Sprintf("NOC1,VER1,TDT00000000,KGE,SLWOFF,DPXOFF,PAG1,IMFK,XCO0,YCO0,WID1016,HGT642,OVRON,PCT0,0,1015,641,NCT0,420,1015,590,ICC0,SZK%d", len(k))
	in := append(handJob(hdr, map[byte][]byte{'K': k}, "K"), []byte("\x01,REQ,INF,\x1c\x03")...)
	out := mcConverse(t, d, in)
	if !strings.HasPrefix(out, "\x01STA$$1,Enduro 3E,KGE,") {
		t.Fatalf("INF reply %q", out)
	}
	cards := d.Cards()
	if len(cards) != 1 {
		t.Fatalf("%d cards printed, state %+v", len(cards), d.State())
	}
	kp := cards[0].FrontPanels.K
	x, y := 1015-10, 644-285
	if kp.Pix[y*kp.Stride+x] != 255 {
		t.Fatalf("dot not at design (%d,%d)", x, y)
	}
	n := 0
	for _, v := range kp.Pix {
		if v != 0 {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d dots set, want 1", n)
	}
	o := cards[0].FrontPanels.O
	// Stripe hole y 420..590 from the bottom row (644): design rows 54..224.
	for _, c := range []struct {
		y    int
		want uint8
	}{{2, 0}, {3, 255}, {53, 255}, {54, 0}, {224, 0}, {225, 255}, {644, 255}, {645, 0}} {
		if got := o.Pix[c.y*o.Stride+500]; got != c.want {
			t.Errorf("overcoat at design row %d = %d, want %d", c.y, got, c.want)
		}
	}
}

// TestMagicardRefusesBadJobs checks the framing rules: each broken job is
// refused with error 1028 (REQ,INF field 19) and no card moves.
func TestMagicardRefusesBadJobs(t *testing.T) {
	k := make([]byte, 84*1016)
	good := fmt.Sprintf("NOC1,KEE,PAG1,IMFK,SZK%d", len(k))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"comma before FS", handJob(good+",", map[byte][]byte{'K': k}, "K")},
		{"wrong size", handJob("NOC1,KEE,PAG1,IMFK,SZK100", map[byte][]byte{'K': make([]byte, 100)}, "K")},
		{"head of the other layout", handJob(fmt.Sprintf("NOC1,KGE,PAG1,IMFK,SZK%d", len(k)), map[byte][]byte{'K': k}, "K")},
		{"IMF without SZ", handJob("NOC1,KEE,PAG1,IMFBGRK", nil, "")},
		{"bad trailer", append(handJob(good, map[byte][]byte{'K': k}, "")[:len(handJob(good, nil, ""))-1], append(k, 0x1C, 'B', ':', 0x03)...)},
		{"mag without sentinels", handJob("NOC1,COEH,MAG1,ABC,KEE,PAG1,IMFK,SZK"+fmt.Sprint(len(k)), map[byte][]byte{'K': k}, "K")},
		{"back page alone", handJob(fmt.Sprintf("NOC1,KEE,DPXON,PAG2,IMFK,SZK%d", len(k)), map[byte][]byte{'K': k}, "K")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewMagicard(MagicardOptions{})
			out := mcConverse(t, d, append(tc.in, []byte("\x01,REQ,INF,\x1c\x03")...))
			if f := strings.Split(strings.TrimSuffix(out, "\x03"), ","); len(f) < 20 || f[19] != "1028" {
				t.Fatalf("INF after a bad job: %q, want error 1028 in field 19", out)
			}
			if st := d.State(); st.Fed != 0 {
				t.Fatalf("a card was fed: %+v", st)
			}
		})
	}
}

// TestMagicardSTA checks REQ,STA replies and the dump commands.
func TestMagicardSTA(t *testing.T) {
	d := NewMagicard(MagicardOptions{Options: Options{Serial: "S42"}})
	lead := string(bytes.Repeat([]byte{5}, 9))
	in := lead + "\x01REQ,STA,TCQ,\x1c\x03" + lead + "\x01REQ,STA,MSR,\x1c\x03" + lead + "\x01SNR1,\x1c\x03" + lead + "\x01SNR9,\x1c\x03"
	out := mcConverse(t, d, []byte(in))
	want := "\x01STA,TCQ,0,\x03\x01STA,MSR,S42,\x03\x01LID CLOSED\x03\x01END\x03"
	if out != want {
		t.Fatalf("replies %q, want %q", out, want)
	}
}

// FuzzMagicardParse feeds arbitrary bytes to the simulator's message
// reader and to a whole device: no panic, every error is a refusal, a
// timeout or the end of the input, and no card is counted that was not fed.
func FuzzMagicardParse(f *testing.F) {
	k := make([]byte, 84*1016)
	f.Add(handJob(fmt.Sprintf("NOC1,KEE,PAG1,IMFK,OVRON,PCT0,0,1025,641,SZK%d", len(k)), map[byte][]byte{'K': k}, "K"))
	f.Add([]byte("\x05\x05\x01REQ,STA,TCQ,\x1c\x03\x01,REQ,INF,\x1c\x03"))
	f.Add([]byte("\x01,NOC1,COEH,MAG1,%A?,MAG2,;1?,KEE,PAG1,IMFK,SZK0\x1c\x1cK:\x03"))
	f.Add([]byte("\x01,NOC1,KEE,PAG1,IMFBGR,NCT1,2,3\x1c"))
	f.Fuzz(func(t *testing.T, in []byte) {
		src := newBytesSource(in)
		for i := 0; i < 64; i++ {
			_, err := readMagicard(src, MagicardKEE)
			var bad *mcBadJob
			if err == nil || errors.As(err, &bad) {
				continue
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, errIdle) {
				t.Fatalf("readMagicard: %v", err)
			}
			break
		}
		d := NewMagicard(MagicardOptions{Options: Options{KeepCards: -1}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out bytes.Buffer
		if err := d.Serve(ctx, struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), &out}); err != nil {
			t.Fatalf("Serve: %v", err)
		}
		d.Wait()
		if st, c := d.State(), d.Counters(); c.Printed > st.Fed {
			t.Fatalf("%d cards printed, %d fed", c.Printed, st.Fed)
		}
	})
}
