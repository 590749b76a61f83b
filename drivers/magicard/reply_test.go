package magicard

import (
	"errors"
	"strings"
	"testing"

	"github.com/cityid/printerd/drivers"
)

func infLine(fields ...string) []byte {
	return []byte("\x01STA$$" + strings.Join(fields, ",") + "\x03")
}

func TestParseINF(t *testing.T) {
	f := make([]string, 35)
	for i := range f {
		f[i] = "0"
	}
	f[1], f[2], f[3], f[6], f[9], f[16], f[19], f[22], f[23], f[24] = "Enduro 3E", "KGE2", "S1", "F2", "41", "47", "1026", "250", "40", "YMCKO"
	inf, err := ParseINF(infLine(f...))
	if err != nil {
		t.Fatal(err)
	}
	if inf.Model != "Enduro 3E" || inf.HeadType != "KGE2" || inf.Printed != 41 || inf.HeadPosition != 47 || inf.Major != 1026 || inf.RibbonLeft() != 210 {
		t.Fatalf("ParseINF = %+v", inf)
	}
	for _, bad := range [][]byte{
		nil, []byte("\x01STA$$1,2\x03"), []byte("STA$$" + strings.Join(f, ",") + "\x03"),
		infLine(append(append([]string{}, f[:9]...), append([]string{"x"}, f[10:]...)...)...),
		[]byte("\x01STA$$\xff\x03"),
	} {
		if _, err := ParseINF(bad); !errors.Is(err, drivers.Protocol) {
			t.Errorf("ParseINF(%q) = %v, want a protocol error", bad, err)
		}
	}
}

func TestParseSTA(t *testing.T) {
	for _, tc := range []struct{ reply, want string }{
		{"\x01STA,TCQ,12,\x03", "12"}, {"\x01STA,TCQ12,\x03", "12"}, {"\x01REQ,STA,TCQ:12\x03", "12"}, {"\x01STA,TCQ\x03", ""},
	} {
		got, err := ParseSTA([]byte(tc.reply), "TCQ")
		if err != nil || got != tc.want {
			t.Errorf("ParseSTA(%q) = %q, %v, want %q", tc.reply, got, err, tc.want)
		}
	}
	if _, err := ParseSTA([]byte("\x01STA,CCQ,1,\x03"), "TCQ"); !errors.Is(err, drivers.Protocol) {
		t.Errorf("a reply for another key: %v, want a protocol error", err)
	}
}

// FuzzParseINF: any bytes give an Inf or a protocol error, never a panic;
// a parsed reply has the fields the driver relies on.
func FuzzParseINF(f *testing.F) {
	f.Add([]byte("\x01STA$$1,Tango 2E,KEE,S,H,B,F,3829,0,5,5,20,1,4,4,0,50,50,50,0,0,0,300,10,YMCKO,0,0,0,0,0,0,0,0,0,0\x03"))
	f.Add([]byte("\x01STA$$\x03"))
	f.Add([]byte("\x01STA$$1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19:20:21\x03"))
	f.Fuzz(func(t *testing.T, b []byte) {
		inf, err := ParseINF(b)
		if err != nil {
			if !errors.Is(err, drivers.Protocol) {
				t.Fatalf("error %v is not a protocol error", err)
			}
			return
		}
		if len(inf.Fields) < infMinFields || inf.Printed < 0 || inf.Major < 0 || inf.Minor < 0 || inf.RibbonLeft() < -1 {
			t.Fatalf("accepted %q as %+v", b, inf)
		}
	})
}

// FuzzParseSTA: any bytes give a printable value or a protocol error.
func FuzzParseSTA(f *testing.F) {
	f.Add([]byte("\x01STA,TCQ,12,\x03"))
	f.Add([]byte("\x01REQ,STA,TCQ\x03"))
	f.Add([]byte("\x01\x03"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseSTA(b, "TCQ")
		if err != nil {
			if !errors.Is(err, drivers.Protocol) {
				t.Fatalf("error %v is not a protocol error", err)
			}
			return
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				t.Fatalf("value %q has a control byte", v)
			}
		}
	})
}
