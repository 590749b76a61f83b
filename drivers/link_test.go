package drivers

import "testing"

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri, scheme, host, opaque, serial string
		wantErr                           bool
	}{
		{uri: "usb://auto", scheme: "usb", host: "auto"},
		{uri: "usb://0f49:1234?serial=A1", scheme: "usb", host: "0f49:1234", serial: "A1"},
		{uri: "usb://0f49:abcd?serial=A1", scheme: "usb", opaque: "0f49:abcd", serial: "A1"},
		{uri: "serial:///dev/ttyUSB0?baud=115200", scheme: "serial"},
		{uri: "tcp://127.0.0.1:9100", scheme: "tcp", host: "127.0.0.1:9100"},
		{uri: "::not a uri", wantErr: true},
	}
	for _, tt := range tests {
		u, err := ParseURI(tt.uri)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseURI(%q) = %v, want an error", tt.uri, u)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.uri, err)
			continue
		}
		if u.Scheme != tt.scheme || u.Host != tt.host || u.Opaque != tt.opaque || u.Query().Get("serial") != tt.serial {
			t.Errorf("ParseURI(%q) = scheme %q host %q opaque %q serial %q, want %q %q %q %q",
				tt.uri, u.Scheme, u.Host, u.Opaque, u.Query().Get("serial"), tt.scheme, tt.host, tt.opaque, tt.serial)
		}
	}
}
