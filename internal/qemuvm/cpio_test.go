package qemuvm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCpioTree writes a tree with a file, a directory and a symlink, lays
// a file over it, and lists the archive back with busybox cpio (what the
// guest tests use for initramfs checks on the host).
func TestCpioTree(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("qemuvm: busybox not found: %s", InstallHint)
	}
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "etc/app"), 0o750)
	os.WriteFile(filepath.Join(src, "etc/app/conf"), []byte("hello"), 0o640)
	os.Symlink("usr/bin", filepath.Join(src, "bin"))
	var b bytes.Buffer
	c := NewCpio(&b)
	if err := c.Tree(src, ""); err != nil {
		t.Fatal(err)
	}
	c.File("etc/app/extra", []byte("x"), 0o600)
	c.MkdirAll("a/b")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Len()%4 != 0 {
		t.Errorf("archive length %d is not a multiple of 4", b.Len())
	}
	cmd := exec.Command(busybox, "cpio", "-t", "-v")
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("busybox cpio -t: %v\n%s", err, out)
	}
	for _, want := range []string{"drwxr-x---", "etc/app", "-rw-r-----", "etc/app/conf", "bin -> usr/bin", "-rw-------", "etc/app/extra", "a/b"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("archive listing lacks %q:\n%s", want, out)
		}
	}
}
