package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// LockFile is the file in the state directory that a running daemon holds
// locked (flock) and writes its PID to: two daemons on one JetStream store
// corrupt it.
const LockFile = "printerd.lock"

// stateLock is a held lock on a state directory.
type stateLock struct{ f *os.File }

// lockState takes the state directory's lock, making the directory if
// needed. When another process holds it, the error names that process's
// PID (as it wrote it) and the lock file.
func lockState(dir string) (*stateLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("config: state: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("config: state: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := "unknown"
			if n, perr := strconv.Atoi(string(bytes.TrimSpace(b))); perr == nil {
				pid = strconv.Itoa(n)
			}
			return nil, fmt.Errorf("config: state: directory %s is in use by another printerd (pid %s, lock %s): stop it, or give this one its own --state", dir, pid, path)
		}
		return nil, fmt.Errorf("config: state: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &stateLock{f: f}, nil
}

// Close releases the lock. It is safe to call on nil and twice.
func (l *stateLock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

// lockStateLate takes the state directory's lock if it is not held yet.
func (d *Daemon) lockStateLate() error {
	if d.lock != nil {
		return nil
	}
	l, err := lockState(d.cfg.State)
	if err != nil {
		return err
	}
	d.lock = l
	return nil
}

// preflight checks and takes, before anything starts, what a mistake in
// the settings would otherwise show only once NATS and the workers run:
// the state directory's lock when the directory exists (it holds the
// store, the daemon's key, the epoch keys and the audit head), every printer URI (scheme, language, parameters),
// the HTTP listen address (kept open for serveHTTP) and the embedded
// nats-server's listen address (tried and released).
func (d *Daemon) preflight(specs []PrinterSpec) error {
	cfg := d.cfg
	if _, err := os.Stat(cfg.State); err == nil {
		// A daemon may be using it: find out before touching a printer.
		// A directory not made yet is locked once the printers are open
		// (lockStateLate), so that a bad printer leaves no directory.
		if err := d.lockStateLate(); err != nil {
			return err
		}
	}
	for _, s := range specs {
		if err := d.opts.Registry.CheckURI(s.URI); err != nil {
			return fmt.Errorf("config: printer %s: %w", s.Name, err)
		}
	}
	if cfg.HTTP != "" {
		ln, err := net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return fmt.Errorf("config: http: %w", err)
		}
		d.httpLn = ln
	}
	if cfg.ConsoleListen != "" {
		if err := d.preflightConsole(); err != nil {
			return err
		}
	}
	if cfg.NATS == "" && cfg.NATSListen != "none" && cfg.NATSListen != "" {
		ln, err := net.Listen("tcp", cfg.NATSListen)
		if err != nil {
			return fmt.Errorf("config: nats-listen: %w", err)
		}
		ln.Close()
	}
	return nil
}
