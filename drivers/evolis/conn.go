package evolis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cityid/printerd/drivers"
)

// Framing bytes.
const (
	esc = 0x1B
	cr  = 0x0D
)

// Command returns the framed bytes of a command without binary payload:
// ESC name;param;... CR.
func Command(name string, params ...string) []byte {
	b := make([]byte, 0, len(name)+16)
	b = append(b, esc)
	b = append(b, name...)
	for _, p := range params {
		b = append(b, ';')
		b = append(b, p...)
	}
	return append(b, cr)
}

// errNoReply is the cause when a reply did not come in time.
var errNoReply = errors.New("evolis: no reply")

// linkError marks a failure of the link itself (write or read error).
type linkError struct{ err error }

func (e *linkError) Error() string { return "evolis: link: " + e.err.Error() }
func (e *linkError) Unwrap() error { return e.err }

// exchange writes cmd and reads one reply, waiting at most timeout for it.
// Errors: *ReplyError (the printer answered with an error), a protocol
// error wrapping drivers.Protocol, errNoReply wrapped with drivers.Timeout,
// *linkError, or ctx's error.
func (p *Printer) exchange(ctx context.Context, cmd []byte, timeout time.Duration) (string, error) {
	p.pending = nil
	wd := p.opts.ReplyTimeout + time.Duration(len(cmd))*time.Second/time.Duration(p.opts.MinRate)
	wctx, cancel := context.WithTimeout(ctx, wd)
	_, err := p.link.Write(wctx, cmd)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &linkError{err}
	}
	raw, err := p.readReply(ctx, timeout)
	if err != nil {
		return "", err
	}
	return ParseReply(raw)
}

// readReply reads one reply: bytes up to a CR or NUL after some content,
// or, when the printer does not terminate its reply, what has come when the
// line has been quiet for Options.Quiet.
func (p *Printer) readReply(ctx context.Context, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	var buf []byte
	tmp := make([]byte, 256)
	for {
		// Skip stale terminators before the reply.
		for len(buf) > 0 && (buf[0] == 0 || buf[0] == cr || buf[0] == '\n') {
			buf = buf[1:]
		}
		if i := bytes.IndexAny(buf, "\r\x00"); i >= 0 {
			p.pending = append(p.pending[:0], buf[i+1:]...)
			return buf[:i], nil
		}
		if len(buf) > maxReply {
			return nil, fmt.Errorf("evolis: reply longer than %d bytes without a terminator: %w", maxReply, drivers.Protocol)
		}
		d := deadline
		if len(buf) > 0 {
			if q := time.Now().Add(p.opts.Quiet); q.Before(d) {
				d = q
			}
		}
		rctx, cancel := context.WithDeadline(ctx, d)
		n, err := p.link.Read(rctx, tmp)
		rerr := rctx.Err()
		cancel()
		buf = append(buf, tmp[:n]...)
		if err == nil {
			continue
		}
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case rerr != nil && len(buf) > 0:
			return buf, nil // one unterminated transfer, line quiet since
		case rerr != nil:
			return nil, fmt.Errorf("%w after %v: %w", errNoReply, timeout, drivers.Timeout)
		default:
			return nil, &linkError{err}
		}
	}
}

// resetLink recovers a printer that stopped answering or sent garbage: it
// resets the link (bounded by ReplyTimeout), then soft-resets the printer
// (Srs, which a silent printer still obeys; bounded by 2 x ReplyTimeout).
// A card inside goes to the reject tray. The next command restarts the
// session (Pem;2).
func (p *Printer) resetLink(ctx context.Context, why error) error {
	p.session = false
	p.pending = nil
	p.opts.Logger.Debug("evolis: resetting link", "cause", why)
	rctx, cancel := context.WithTimeout(ctx, p.opts.ReplyTimeout)
	err := p.link.Reset(rctx)
	cancel()
	if err != nil {
		return fmt.Errorf("evolis: link reset: %w", err)
	}
	p.drain(ctx)
	if _, err := p.exchange(ctx, Command("Srs"), 2*p.opts.ReplyTimeout); err != nil {
		return fmt.Errorf("evolis: soft reset (Srs) after a link reset: %w", err)
	}
	return nil
}

// drain discards what the printer sends until the line has been quiet for
// Options.Quiet (at most ReplyTimeout): late replies to commands the driver
// gave up on must not be taken for the answers to the next ones.
func (p *Printer) drain(ctx context.Context) {
	end := time.Now().Add(p.opts.ReplyTimeout)
	buf := make([]byte, 256)
	for time.Now().Before(end) {
		rctx, cancel := context.WithTimeout(ctx, p.opts.Quiet)
		n, err := p.link.Read(rctx, buf)
		cancel()
		if n > 0 {
			p.opts.Logger.Debug("evolis: discarded late bytes", "bytes", n)
		}
		if err != nil {
			return
		}
	}
}

// codeFor returns the problem code an exchange error stands for.
func codeFor(err error) drivers.Code {
	var re *ReplyError
	var le *linkError
	switch {
	case errors.As(err, &re):
		return re.Code
	case errors.As(err, &le):
		return drivers.Offline
	case errors.Is(err, drivers.Timeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return drivers.Timeout
	case errors.Is(err, drivers.Protocol):
		return drivers.Protocol
	}
	return drivers.Unknown
}

// needsReset reports whether an exchange error leaves the link in an
// unknown state (no reply, dead link, garbage) rather than a clean answer.
func needsReset(err error) bool {
	var re *ReplyError
	return err != nil && !errors.As(err, &re)
}

// commandName returns a command's name for logs and errors, never its
// parameters (which may carry magnetic data) or payload.
func commandName(cmd []byte) string {
	if len(cmd) > 0 && cmd[0] == esc {
		cmd = cmd[1:]
	}
	end := bytes.IndexAny(cmd, ";\r")
	if end < 0 || end > 8 {
		end = min(len(cmd), 8)
	}
	return string(cmd[:end])
}
