package trust

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestChecks(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "f")
	for _, tc := range []struct {
		mode                os.FileMode
		file, private, want bool
	}{
		{0o600, true, true, true},
		{0o644, true, false, true},
		{0o640, true, false, true},
		{0o664, false, false, false},
		{0o666, false, false, false},
	} {
		os.WriteFile(path, []byte("x"), 0o600)
		os.Chmod(path, tc.mode)
		if err := CheckFile(path); (err == nil) != tc.file || err != nil && !errors.Is(err, ErrWritable) {
			t.Errorf("CheckFile(mode %o) = %v, want ok %v", tc.mode, err, tc.file)
		}
		if err := CheckPrivate(path); (err == nil) != tc.private {
			t.Errorf("CheckPrivate(mode %o) = %v, want ok %v", tc.mode, err, tc.private)
		}
	}
	os.Chmod(path, 0o600)
	os.Chmod(dir, 0o777)
	if err := CheckFile(path); !errors.Is(err, ErrWritable) {
		t.Errorf("CheckFile in a world-writable directory = %v, want ErrWritable", err)
	}
	if err := CheckDir(dir); !errors.Is(err, ErrWritable) {
		t.Errorf("CheckDir(777) = %v, want ErrWritable", err)
	}
	os.Chmod(dir, 0o777|os.ModeSticky)
	if err := CheckFile(path); err != nil {
		t.Errorf("CheckFile in a sticky directory (like /tmp) = %v, want ok", err)
	}
	os.Chmod(dir, 0o700)
	if err := WriteFileAtomic(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(b) != "new" || st.Mode().Perm() != 0o600 {
		t.Errorf("WriteFileAtomic: %q mode %o", b, st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("WriteFileAtomic left %d files, want 1", len(ents))
	}
}
