package journal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestAppendReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outcomes.journal")
	j, recs, bad, err := Open(path)
	if err != nil || len(recs) != 0 || bad != -1 {
		t.Fatalf("open new: %v %d records bad %d", err, len(recs), bad)
	}
	var want [][]byte
	for i := 0; i < 5; i++ {
		p := []byte(fmt.Sprintf(`{"n":%d}`, i))
		if err := j.Append(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	j.Close()
	if err := j.Append([]byte("x")); err != ErrClosed {
		t.Fatalf("append after close: %v", err)
	}
	j, recs, bad, err = Open(path)
	if err != nil || bad != -1 || !equal(recs, want) {
		t.Fatalf("reopen: %v bad %d records %q", err, bad, recs)
	}
	if err := j.Rewrite(want[3:]); err != nil {
		t.Fatal(err)
	}
	if err := j.Append([]byte("after")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	_, recs, _, _ = Open(path)
	if !equal(recs, [][]byte{want[3], want[4], []byte("after")}) {
		t.Fatalf("after rewrite: %q", recs)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode())
	}
}

// A torn or corrupt tail (a crash mid-write, a flipped bit) is cut off at
// the last good frame, kept in a side file, and appends go on after it.
func TestTornTail(t *testing.T) {
	good := append(Encode([]byte("one")), Encode([]byte("two"))...)
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"half header", Encode([]byte("three"))[:5]},
		{"half payload", Encode([]byte("three"))[:10]},
		{"bad checksum", func() []byte { b := Encode([]byte("three")); b[9] ^= 1; return b }()},
		{"zero length", make([]byte, 12)},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			os.WriteFile(path, append(append([]byte(nil), good...), tc.tail...), 0o600)
			j, recs, bad, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(recs, [][]byte{[]byte("one"), []byte("two")}) || bad != int64(len(good)) {
				t.Fatalf("records %q bad %d, want one, two and bad at %d", recs, bad, len(good))
			}
			if side, err := os.ReadFile(fmt.Sprintf("%s.bad-%d", path, len(good))); err != nil || !bytes.Equal(side, tc.tail) {
				t.Fatalf("side file %q, %v", side, err)
			}
			j.Append([]byte("three"))
			j.Close()
			_, recs, bad, _ = Open(path)
			if len(recs) != 3 || bad != -1 {
				t.Fatalf("after append: %q bad %d", recs, bad)
			}
		})
	}
}

func TestAppendRefusesSize(t *testing.T) {
	j, _, _, err := Open(filepath.Join(t.TempDir(), "j"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, n := range []int{0, MaxRecord + 1} {
		if err := j.Append(make([]byte, n)); err == nil {
			t.Errorf("append of %d bytes accepted", n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(append(Encode([]byte("a")), Encode([]byte("bc"))...))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, end := Decode(b)
		if end < 0 || end > len(b) {
			t.Fatalf("end %d of %d", end, len(b))
		}
		var re []byte
		for _, r := range recs {
			re = append(re, Encode(r)...)
		}
		if !bytes.Equal(re, b[:end]) {
			t.Fatal("records do not re-encode to the good prefix")
		}
	})
}

func equal(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
