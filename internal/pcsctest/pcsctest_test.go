package pcsctest

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLockAndReap: a second test binary waits for the lock and gives up
// with a message; the pcscd started is reaped at the end (a zombie would
// still answer signal 0).
func TestLockAndReap(t *testing.T) {
	stop, pid, err := acquire(5 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(LockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// the lock is per open file: this descriptor competes like another binary
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("the lock is not held while pcscd is in use: %v", err)
	}
	if _, _, err := acquire(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "another test binary") {
		t.Errorf("a second acquire: %v, want it to wait and give up", err)
	}
	stop()
	if pid == 0 {
		t.Log("pcscd was already running: it was reused, not started, so there is nothing to reap")
		return
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("pcscd %d is still there after stop (signal 0: %v): not reaped", pid, err)
	}
}
