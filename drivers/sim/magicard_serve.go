package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Magicard framing bytes.
const (
	mcENQ = 0x05
	mcSOH = 0x01
	mcETX = 0x03
	mcFS  = 0x1C
)

// mcMaxHeader bounds a header (S requires it within the first ~1000 bytes
// of a job; commands are far shorter).
const mcMaxHeader = 4096

// mcGarbage is the reply of the garbage fault: a frame that is not a reply.
var mcGarbage = []byte{mcSOH, 0xFF, '#', 0x81, 'G', 0x7F, mcETX}

// Serve runs the Magicard printer on a byte stream until ctx ends, the
// stream ends or fails, or a drop fault cuts the link. It returns nil when
// the stream ended, ctx's error, ErrDropped, or the stream's error. A new
// Serve is a new connection: a silent printer answers again. A job keeps
// printing after its connection ends.
func (d *Magicard) Serve(ctx context.Context, rw io.ReadWriter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.mu.Lock()
	d.silent = false
	d.dropped = false
	d.cut = cancel
	d.mu.Unlock()
	src := newSource(ctx, rw, d.opts.ReadTimeout)
	defer src.stop()
	err := d.serve(src, rw)
	d.mu.Lock()
	dropped := d.dropped
	d.cut = nil
	d.mu.Unlock()
	switch {
	case dropped:
		return ErrDropped
	case errors.Is(err, io.EOF):
		return nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	case err != nil:
		return fmt.Errorf("sim: %s: %w", d.opts.Name, err)
	}
	return nil
}

// mcMessage is one message from the host: a command or query, or one page
// of a job.
type mcMessage struct {
	tokens []string
	page   *mcPage
}

func (d *Magicard) serve(src *source, w io.Writer) error {
	for {
		msg, err := readMagicard(src, d.opts.Layout)
		var bad *mcBadJob
		switch {
		case errors.As(err, &bad):
			d.opts.Logger.Debug("sim: magicard job refused", "device", d.opts.Name, "rule", bad.rule)
			d.mu.Lock()
			if d.major == 0 {
				d.major, d.minor = mcErrJob, 0
			}
			d.front = nil
			d.mu.Unlock()
			continue
		case errors.Is(err, errIdle):
			d.opts.Logger.Debug("sim: magicard host stopped mid-message", "device", d.opts.Name)
			continue
		case err != nil:
			return err
		}
		name := ""
		if len(msg.tokens) > 0 {
			name = msg.tokens[0]
		}
		if !d.admitMC(name) {
			continue
		}
		reply := d.handle(msg)
		d.opts.Logger.Debug("sim: magicard message", "device", d.opts.Name, "command", name, "replied", len(reply) > 0)
		if len(reply) > 0 {
			if _, err := w.Write(d.answerMC(reply)); err != nil {
				return err
			}
		}
	}
}

// admitMC applies the silence fault: a silent printer ignores everything
// but RST.
func (d *Magicard) admitMC(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.silentIn >= 0 {
		if d.silentIn == 0 {
			d.silent = true
			d.silentIn = -1
		} else {
			d.silentIn--
		}
	}
	return !d.silent || name == "RST"
}

func (d *Magicard) answerMC(reply []byte) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.garbageIn >= 0 {
		if d.garbageIn == 0 {
			d.garbageIn = -1
			return mcGarbage
		}
		d.garbageIn--
	}
	return reply
}

// mcBadJob is a message the printer refuses (error 1028): the rule broken.
type mcBadJob struct{ rule string }

func (e *mcBadJob) Error() string { return "sim: magicard job refused: " + e.rule }

// readMagicard reads the next message: any number of 0x05 bytes, 0x01,
// the header up to 0x1C, then for a job page its planes by the sizes the
// header gives, each followed by 0x1C <letter> ':', and 0x03; for a
// command just 0x03. Bytes outside a message are skipped.
func readMagicard(src *source, layout string) (mcMessage, error) {
	var msg mcMessage
	for {
		b, err := src.byte(false)
		if err != nil {
			return msg, err
		}
		if b == mcSOH {
			break
		}
	}
	hdr := make([]byte, 0, 256)
	for {
		b, err := src.byte(true)
		if err != nil {
			return msg, err
		}
		if b == mcFS {
			break
		}
		if len(hdr) == mcMaxHeader {
			return msg, &mcBadJob{"header longer than " + strconv.Itoa(mcMaxHeader) + " bytes without 0x1C"}
		}
		if b < 0x20 || b > 0x7E {
			return msg, &mcBadJob{fmt.Sprintf("header byte %d is 0x%02x, not printable ASCII", len(hdr)+1, b)}
		}
		hdr = append(hdr, b)
	}
	text := strings.TrimPrefix(string(hdr), ",")
	msg.tokens = strings.Split(strings.TrimSuffix(text, ","), ",")
	if !strings.HasPrefix(msg.tokens[0], "NOC") {
		// A command or query: 0x03 follows.
		b, err := src.byte(true)
		if err != nil {
			return msg, err
		}
		if b != mcETX {
			src.unread(b)
		}
		return msg, nil
	}
	if strings.HasSuffix(text, ",") {
		return msg, &mcBadJob{"job header ends in ',' before 0x1C"}
	}
	pg, err := parsePage(msg.tokens, layout)
	if err != nil {
		return msg, err
	}
	for i := range pg.planes {
		pl := &pg.planes[i]
		pl.data, err = src.full(pl.size)
		if err != nil {
			return msg, err
		}
		var trail [3]byte
		for k := range trail {
			if trail[k], err = src.byte(true); err != nil {
				return msg, err
			}
		}
		if trail != [3]byte{mcFS, pl.letter, ':'} {
			return msg, &mcBadJob{fmt.Sprintf("plane %c is not followed by 0x1C %c ':'", pl.letter, pl.letter)}
		}
	}
	b, err := src.byte(true)
	if err != nil {
		return msg, err
	}
	if b != mcETX {
		return msg, &mcBadJob{fmt.Sprintf("page ends with 0x%02x, want 0x03", b)}
	}
	msg.page = pg
	return msg, nil
}

// ServeListener serves the printer on ln, one connection at a time (a new
// one after a drop or a closed connection), until ctx ends or ln is
// closed; it closes the connection it serves when ctx ends. Errors of a
// connection other than a drop are given to logf (nil: dropped).
func (d *Magicard) ServeListener(ctx context.Context, ln net.Listener, logf func(format string, args ...any)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err = d.Serve(ctx, c)
		stop()
		c.Close()
		if err != nil && !errors.Is(err, ErrDropped) && ctx.Err() == nil && logf != nil {
			logf("sim: %s: connection ended: %v", d.opts.Name, err)
		}
	}
}

// MagicardServer is a Magicard served on a TCP listener by ListenTCP.
type MagicardServer struct {
	dev    *Magicard
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// ListenTCP serves the printer on a TCP listener at addr (e.g.
// "127.0.0.1:0"), one connection at a time, until Close; see
// ServeListener for logf.
func (d *Magicard) ListenTCP(addr string, logf func(format string, args ...any)) (*MagicardServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: %s: listen: %w", d.opts.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &MagicardServer{dev: d, ln: ln, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		d.ServeListener(ctx, ln, logf)
	}()
	return s, nil
}

// Addr is the address the server listens on, host:port.
func (s *MagicardServer) Addr() string { return s.ln.Addr().String() }

// Close stops listening, ends the connection being served, waits for the
// server and for the printer to be idle (Magicard.Close). It is safe to
// call twice.
func (s *MagicardServer) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.ln.Close()
		<-s.done
		s.dev.Close()
	})
	return nil
}
