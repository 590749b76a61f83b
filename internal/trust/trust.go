// Package trust checks the files that grant trust (approver keys, the
// users file, nkey seeds, the state directory) before printerd uses them:
// a file or directory that group or others may write could be replaced by
// anyone on the machine, so it is refused. It also writes such files
// atomically.
package trust

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrWritable is matched by the errors for a file or directory that group
// or others may write.
var ErrWritable = errors.New("writable by group or others")

// CheckFile refuses path when it, or the directory holding it, is writable
// by group or others (a sticky directory such as /tmp is accepted for the
// directory: others cannot replace a file they do not own there).
func CheckFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("trust: %s has mode %o, %w: run chmod go-w %s", path, st.Mode().Perm(), ErrWritable, path)
	}
	return checkParent(path)
}

// CheckDir refuses a directory writable by group or others.
func CheckDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("trust: %s: not a directory", dir)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("trust: directory %s has mode %o, %w: run chmod go-w %s", dir, st.Mode().Perm(), ErrWritable, dir)
	}
	return nil
}

// CheckPrivate refuses a secret file (a seed, a key) that group or others
// may read or write.
func CheckPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("trust: %s has mode %o, readable or writable by group or others: run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	return checkParent(path)
}

func checkParent(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	if st.Mode().Perm()&0o022 != 0 && st.Mode()&os.ModeSticky == 0 {
		return fmt.Errorf("trust: directory %s of %s has mode %o, %w: run chmod go-w %s", dir, filepath.Base(path), st.Mode().Perm(), ErrWritable, dir)
	}
	return nil
}

// WriteFileAtomic writes data to path with mode perm: to a temporary file
// in the same directory, synced, renamed over path, and the directory
// synced, so path holds either the old or the new contents after a crash.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("trust: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("trust: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("trust: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("trust: sync %s: %w", dir, err)
	}
	return nil
}
