package main

import (
	"context"
	"strings"
	"testing"
)

// TestURIParameters: a misspelled or unknown printer URI parameter is
// refused with the list of known ones, and a bad value of a known one is
// refused with the values it may take; the parameters every layer reads
// pass.
func TestURIParameters(t *testing.T) {
	r, err := newRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uri  string
		want []string // in the error; none: accepted
	}{
		{"sim://x?sped=0", []string{`unknown parameter "sped"`, "speed", "faults", "pool"}},
		{"serial:///dev/ttyS0?baud=115200&parity=x", []string{`unknown parameter "parity"`, "baud"}},
		{"usb://auto?serail=A1", []string{`unknown parameter "serail"`, "serial"}},
		{"tcp://127.0.0.1:9100?lang=magicard&compress=1", []string{`unknown parameter "compress"`, "print-timeout"}},
		{"tcp://127.0.0.1:9100?pool=a&pool=b", []string{`"pool" given 2 times`}},
		{"tcp://127.0.0.1:9100?lang=cobol", []string{`unknown language "cobol"`}},
		{"sim://x?speed=0&pool=front&name=desk1&ribbon=ko&faults=jam%3Dy%402&timeout=1s", nil},
		{"tcp://127.0.0.1:9100?lang=magicard&layout=kee&poll=20ms", nil},
		{"usb://0f49:1234?serial=A1&compress=1", nil},
		{"serial:///dev/ttyUSB0?baud=115200&levels=64", nil},
	}
	for _, tt := range tests {
		err := r.CheckURI(tt.uri)
		if tt.want == nil {
			if err != nil {
				t.Errorf("CheckURI(%s): %v; want it accepted", tt.uri, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("CheckURI(%s) accepted it; want an error naming %q", tt.uri, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("CheckURI(%s): %v; want it to name %q", tt.uri, err, w)
			}
		}
	}
	// Opening checks the same, and the transports check their values.
	ctx := context.Background()
	for uri, want := range map[string]string{
		"sim://x?sped=0":                  `unknown parameter "sped"`,
		"serial:///dev/null?baud=11520":   "want one of 1200, 2400",
		"sim://x?speed=0&ribbon=rgb":      "ribbon",
		"serial:///dev/null?baud=fast":    "baud",
		"sim://x?speed=0&lang=evolis&x=1": `unknown parameter "x"`,
	} {
		op, err := r.Open(ctx, uri)
		if err == nil {
			op.Close()
			t.Errorf("Open(%s) succeeded; want an error naming %q", uri, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s): %v; want it to name %q", uri, err, want)
		}
	}
}
