// Package pcsctest gives tests the one shared pcscd with vsmartcard's
// virtual readers (Debian's pcscd and vsmartcard-vpcd packages).
//
// pcscd's socket path is fixed (/run/pcscd/pcscd.comm) and each virtual
// reader takes one virtual card, so test binaries that use them, which go
// test runs in parallel, take turns: Run holds an exclusive lock on
// LockPath for the whole test binary. While it holds the lock it uses the
// pcscd that is running, or starts one (pcscd --foreground, killed with
// the test binary through the parent-death signal, and stopped and reaped
// by Run at the end).
package pcsctest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers/chip/vchip"
	"github.com/cityid/printerd/drivers/pcsc"
)

// LockPath is the lock file test binaries take turns on.
const LockPath = "/tmp/printerd-pcscd.lock"

// Install is what to run when pcscd or vpcd is missing.
const Install = "run scripts/deps.sh test (installs Debian's pcscd, vsmartcard-vpcd and libpcsclite-dev)"

// Run takes the lock, makes sure pcscd with the virtual readers runs,
// runs the tests and stops the pcscd it started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pcsctest.Run(m)) }
//
// It returns 1, with a message saying what to install, when pcscd cannot
// be had.
func Run(m *testing.M) int {
	stop, _, err := acquire(5 * time.Minute)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pcsctest: %v\n", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// acquire takes the lock and starts pcscd if needed; stop undoes both.
// pid is the pcscd it started, 0 if it found one running.
func acquire(wait time.Duration) (stop func(), pid int, err error) {
	f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, 0, fmt.Errorf("lock %s: %w", LockPath, err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, 0, fmt.Errorf("lock %s (another test binary holds pcscd): %w", LockPath, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	unlock := func() { f.Close() } // closing drops the flock
	if ready(500 * time.Millisecond) {
		return unlock, 0, nil
	}
	path, err := exec.LookPath("pcscd")
	if err != nil {
		path = "/usr/sbin/pcscd"
		if _, err := os.Stat(path); err != nil {
			unlock()
			return nil, 0, fmt.Errorf("pcscd not found: %s", Install)
		}
	}
	if _, err := os.Stat("/etc/reader.conf.d/vpcd"); err != nil {
		unlock()
		return nil, 0, fmt.Errorf("vsmartcard-vpcd's reader configuration is missing: %s", Install)
	}
	// Not --apdu: pcscd would log every APDU, the chip's data among them.
	cmd := exec.Command(path, "--foreground")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		unlock()
		return nil, 0, fmt.Errorf("start pcscd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps pcscd: no zombie
	stopPcscd := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	if !ready(10 * time.Second) {
		stopPcscd()
		unlock()
		return nil, 0, fmt.Errorf("pcscd started but the readers %q and %q did not appear in 10 s: %s", vchip.Reader0, vchip.Reader1, Install)
	}
	return func() { stopPcscd(); unlock() }, cmd.Process.Pid, nil
}

// ready polls pcscd until both virtual readers are listed.
func ready(wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		r, err := pcsc.Readers(ctx)
		if err == nil && slices.Contains(r, vchip.Reader0) && slices.Contains(r, vchip.Reader1) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}
