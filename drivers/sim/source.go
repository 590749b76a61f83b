package sim

import (
	"context"
	"errors"
	"io"
	"time"
)

// errIdle means the host stopped sending in the middle of a command.
var errIdle = errors.New("sim: host stopped sending mid-command")

type chunk struct {
	b   []byte
	err error
}

// source turns an io.Reader into a byte source whose reads honour a
// context and, inside a command, an inter-byte time-out. A goroutine reads
// the stream into a channel; stop ends it as far as the stream allows
// (streams with SetReadDeadline are unblocked at once, others when their
// next Read returns).
type source struct {
	ctx     context.Context
	ch      chan chunk
	done    chan struct{}
	buf     []byte
	err     error
	timeout time.Duration
	unblock func()
}

type readDeadliner interface {
	SetReadDeadline(time.Time) error
}

func newSource(ctx context.Context, r io.Reader, timeout time.Duration) *source {
	s := &source{ctx: ctx, ch: make(chan chunk, 4), done: make(chan struct{}), timeout: timeout}
	if rd, ok := r.(readDeadliner); ok {
		_ = rd.SetReadDeadline(time.Time{})
		s.unblock = func() { _ = rd.SetReadDeadline(time.Now()) }
	}
	go func() {
		b := make([]byte, 32<<10)
		for {
			n, err := r.Read(b)
			if n > 0 {
				select {
				case s.ch <- chunk{b: append([]byte(nil), b[:n]...)}:
				case <-s.done:
					return
				}
			}
			if err != nil {
				select {
				case s.ch <- chunk{err: err}:
				case <-s.done:
				}
				return
			}
		}
	}()
	return s
}

func (s *source) stop() {
	close(s.done)
	if s.unblock != nil {
		s.unblock()
	}
}

// fill waits until buf holds a byte. Inside a command (timed) it gives up
// with errIdle after the time-out.
func (s *source) fill(timed bool) error {
	if len(s.buf) > 0 {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	var timer *time.Timer
	var tc <-chan time.Time
	if timed {
		timer = time.NewTimer(s.timeout)
		defer timer.Stop()
		tc = timer.C
	}
	for len(s.buf) == 0 {
		select {
		case c := <-s.ch:
			s.buf = c.b
			if c.err != nil {
				s.err = c.err
				if len(s.buf) == 0 {
					return s.err
				}
			}
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-tc:
			return errIdle
		}
	}
	return nil
}

// byte returns the next byte.
func (s *source) byte(timed bool) (byte, error) {
	if err := s.fill(timed); err != nil {
		return 0, err
	}
	b := s.buf[0]
	s.buf = s.buf[1:]
	return b, nil
}

// unread puts b back in front of the buffer.
func (s *source) unread(b byte) {
	s.buf = append([]byte{b}, s.buf...)
}

// full reads exactly n bytes (a payload taken by length).
func (s *source) full(n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for len(out) < n {
		if err := s.fill(true); err != nil {
			return out, err
		}
		k := min(n-len(out), len(s.buf))
		out = append(out, s.buf[:k]...)
		s.buf = s.buf[k:]
	}
	return out, nil
}
