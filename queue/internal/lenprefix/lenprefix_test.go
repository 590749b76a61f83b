package lenprefix

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		fields []string
		want   []byte
	}{
		{nil, nil},
		{[]string{""}, []byte{0, 0}},
		{[]string{"ab", "c"}, []byte{0, 2, 'a', 'b', 0, 1, 'c'}},
		{[]string{"a", "bc"}, []byte{0, 1, 'a', 0, 2, 'b', 'c'}}, // differs from the one above
	} {
		var b, c []byte
		var err error
		for _, f := range tc.fields {
			if b, err = AppendString(b, f); err != nil {
				t.Fatal(err)
			}
			if c, err = Append(c, []byte(f)); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(b, tc.want) || !bytes.Equal(c, tc.want) {
			t.Errorf("%q: got %x and %x, want %x", tc.fields, b, c, tc.want)
		}
	}
	long := strings.Repeat("x", 65536)
	if _, err := AppendString(nil, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("65536 bytes: err %v, want ErrTooLong", err)
	}
	if _, err := Append(nil, []byte(long)); !errors.Is(err, ErrTooLong) {
		t.Errorf("65536 bytes: err %v, want ErrTooLong", err)
	}
	if b, err := AppendString(nil, long[1:]); err != nil || len(b) != 65537 || b[0] != 0xff || b[1] != 0xff {
		t.Errorf("65535 bytes: len %d err %v", len(b), err)
	}
}
