package daemon

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// reopenEvery is how often an offline printer is tried again.
const reopenEvery = 5 * time.Second

// offlineAtStart reports whether a printer's open error means "not there
// now" (switched off, unplugged, not on the network) rather than a wrong
// configuration (drivers.BadConfig: a mistyped host or path, permission
// denied): the daemon then starts anyway and keeps trying.
func offlineAtStart(err error) bool {
	switch drivers.CodeOf(err) {
	case drivers.Offline, drivers.Timeout:
		return true
	case drivers.BadConfig:
		return false
	}
	var ne net.Error
	var pe *fs.PathError
	return errors.As(err, &ne) || errors.As(err, &pe) || errors.Is(err, fs.ErrNotExist)
}

// lazyPrinter is a configured printer that was offline when the daemon
// started: it tries to open the printer again, at most every reopenEvery,
// whenever the worker asks for its status, and answers Offline (before
// feed) until then. Once open it passes every call to the driver.
type lazyPrinter struct {
	open func(ctx context.Context) (*drivers.Opened, error)
	name string
	log  *slog.Logger

	mu      sync.Mutex
	op      *drivers.Opened
	lastTry time.Time
	lastErr error
}

func (l *lazyPrinter) get(ctx context.Context) (*drivers.Opened, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.op != nil {
		return l.op, nil
	}
	if time.Since(l.lastTry) >= reopenEvery {
		l.lastTry = time.Now()
		op, err := l.open(ctx)
		if err == nil {
			l.op = op
			l.log.Info("daemon: printer online", "printer", l.name)
			return op, nil
		}
		l.lastErr = err
	}
	return nil, &drivers.Error{Op: "open", Code: drivers.Offline, Feed: drivers.BeforeFeed, Err: l.lastErr}
}

// Info implements drivers.Printer.
func (l *lazyPrinter) Info(ctx context.Context) (drivers.Info, error) {
	op, err := l.get(ctx)
	if err != nil {
		return drivers.Info{}, err
	}
	return op.Info(ctx)
}

// Status implements drivers.Printer.
func (l *lazyPrinter) Status(ctx context.Context) (drivers.Status, error) {
	op, err := l.get(ctx)
	if err != nil {
		return drivers.Status{Problems: []drivers.Code{drivers.Offline}, RibbonLeft: -1}, err
	}
	return op.Status(ctx)
}

// Counters implements drivers.Printer.
func (l *lazyPrinter) Counters(ctx context.Context) (drivers.Counters, error) {
	op, err := l.get(ctx)
	if err != nil {
		return drivers.Counters{}, err
	}
	return op.Counters(ctx)
}

// Print implements drivers.Printer.
func (l *lazyPrinter) Print(ctx context.Context, c card.Card) error {
	op, err := l.get(ctx)
	if err != nil {
		return err
	}
	return op.Print(ctx, c)
}

// Clean implements drivers.Printer.
func (l *lazyPrinter) Clean(ctx context.Context) error {
	op, err := l.get(ctx)
	if err != nil {
		return err
	}
	return op.Clean(ctx)
}

// Reset implements drivers.Printer.
func (l *lazyPrinter) Reset(ctx context.Context) error {
	op, err := l.get(ctx)
	if err != nil {
		return err
	}
	return op.Reset(ctx)
}

// Probe implements drivers.Printer.
func (l *lazyPrinter) Probe(ctx context.Context) (drivers.Snapshot, error) {
	op, err := l.get(ctx)
	if err != nil {
		return drivers.Snapshot{}, err
	}
	return op.Probe(ctx)
}

// Reject implements drivers.Printer.
func (l *lazyPrinter) Reject(ctx context.Context) error {
	op, err := l.get(ctx)
	if err != nil {
		return err
	}
	return op.Reject(ctx)
}

// Unwrap returns the opened printer, or nil while it is offline (for
// drivers/diag, which looks for the driver behind wrappers).
func (l *lazyPrinter) Unwrap() drivers.Printer {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.op == nil {
		return nil
	}
	return l.op
}

// Close closes the printer if it was opened. Safe to call twice.
func (l *lazyPrinter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.op == nil {
		return nil
	}
	return l.op.Close()
}

var _ drivers.Printer = (*lazyPrinter)(nil)
