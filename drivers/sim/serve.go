package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Framing bytes.
const (
	esc = 0x1B
	cr  = 0x0D
)

// Limits on what the parser buffers.
const (
	maxName   = 8    // longest command name
	maxParams = 1024 // longest parameter text of a command without payload
	maxField  = 16   // longest numeric field before a payload
	// maxDbc bounds a Dbc byte count: twice the largest uncompressed
	// panel; the compressed forms take at most one byte a dot and two a
	// line end, far less.
	maxDbc = 2 * 576072
)

// ErrDropped is returned by Serve when a drop fault cut the link.
var ErrDropped = errors.New("sim: link dropped by an injected fault")

// Replies the parser gives on its own.
const (
	replyCDE     = "ERROR CDE"
	replyParams  = "ERROR PARAMETRES"
	replyTimeout = "ERROR TIME OUT"
)

// garbage is the reply of the garbage fault: bytes that are not a reply.
var garbage = []byte{0xFF, 0xFE, '#', 0x81, 'G', 0x7F, 0xC3, 0x28, 0x01, '\r'}

// command is one parsed command.
type command struct {
	name    string
	params  []string
	payload panelData // Db and Dbc only: the panel as received, checked
	panel   byte      // Db and Dbc only
}

// parseError is a command the printer refuses while reading it: the reply
// and whether the parser must skip to the next ESC to find its footing
// again (a payload whose length it could not know).
type parseError struct {
	reply  string
	resync bool
}

func (e *parseError) Error() string { return "sim: " + e.reply }

// Serve runs the printer on a byte stream (pty master, TCP connection,
// in-process pipe, USB bulk pipes) until ctx ends, the stream ends or fails,
// or a drop fault cuts the link. It returns nil when the stream ended
// (io.EOF), ctx's error, ErrDropped, or the stream's error. A new Serve is a
// new connection: a silent printer answers again. Serve calls must not
// overlap on one Device.
//
// Every command is answered with one reply ending in CR ("OK\r").
func (d *Device) Serve(ctx context.Context, rw io.ReadWriter) error {
	d.mu.Lock()
	d.silent = false
	d.mu.Unlock()
	src := newSource(ctx, rw, d.opts.ReadTimeout)
	defer src.stop()
	err := d.serve(ctx, src, rw)
	d.mu.Lock()
	d.abortSequence()
	d.mu.Unlock()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, ErrDropped), ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	case err != nil:
		return fmt.Errorf("sim: %s: %w", d.opts.Name, err)
	}
	return nil
}

func (d *Device) serve(ctx context.Context, src *source, w io.Writer) error {
	lineStart := true // the ESC may be left out right after a CR
	needESC := false  // after a parse error: skip to the next ESC
	for {
		b, err := src.byte(false)
		if err != nil {
			return err
		}
		switch {
		case b == esc:
		case needESC:
			continue
		case b == 0 || b == '\n':
			continue
		case b == cr:
			lineStart = true
			continue
		case lineStart:
			src.unread(b)
		default:
			continue // noise between commands
		}
		lineStart, needESC = false, false
		cmd, err := readCommand(src)
		var pe *parseError
		var out []byte
		var delay time.Duration
		var drop bool
		if err != nil && !errors.As(err, &pe) && !errors.Is(err, errIdle) {
			return err
		}
		if !d.admit(cmd.name) {
			if err != nil {
				needESC = true
			} else {
				lineStart = true
			}
			continue
		}
		switch {
		case errors.As(err, &pe):
			needESC = pe.resync
			lineStart = !pe.resync
			out = d.answer(cmd.name, pe.reply)
			d.opts.Logger.Debug("sim: command refused", "device", d.opts.Name, "command", cmd.name, "reply", pe.reply)
		case errors.Is(err, errIdle):
			needESC = true
			out = d.answer(cmd.name, replyTimeout)
			d.opts.Logger.Debug("sim: command timed out", "device", d.opts.Name, "command", cmd.name)
		case err != nil:
			return err
		default:
			lineStart = true
			var reply string
			reply, delay, drop = d.exec(cmd)
			d.opts.Logger.Debug("sim: command", "device", d.opts.Name, "command", cmd.name, "reply", logged(reply))
			out = d.answer(cmd.name, reply)
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		if drop {
			return ErrDropped
		}
		if len(out) > 0 {
			if _, err := w.Write(out); err != nil {
				return err
			}
		}
	}
}

// logged is a reply as logs may show it: OK and error strings as they are,
// values (which may be magnetic data read back) never.
func logged(reply string) string {
	if reply == replyOK || strings.HasPrefix(reply, "ERR") || isStatusWord(reply) {
		return reply
	}
	return "(value)"
}

func isStatusWord(r string) bool {
	switch r {
	case replyCard, replyJam, replyCover, replyFeeder, replyCleaning, replyNoCard:
		return true
	}
	return false
}

// admit applies the silence fault: a silent printer ignores every command
// but Srs.
func (d *Device) admit(name string) bool {
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
	return !d.silent || name == "Srs"
}

// answer turns a reply into the bytes sent, applying the garbage fault.
func (d *Device) answer(name, reply string) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.garbageIn >= 0 {
		if d.garbageIn == 0 {
			d.garbageIn = -1
			return garbage
		}
		d.garbageIn--
	}
	return append([]byte(reply), cr)
}

// readCommand reads one command after its ESC (or at a line start). On a
// parse error the returned command still carries the name, if read.
func readCommand(src *source) (command, error) {
	var cmd command
	name := make([]byte, 0, maxName)
	var term byte
	for {
		b, err := src.byte(true)
		if err != nil {
			cmd.name = string(name)
			return cmd, err
		}
		if b == ';' || b == cr {
			term = b
			break
		}
		if b == esc {
			if len(name) == 0 {
				continue // ESC ESC: one start
			}
			// A new command cuts this one short.
			cmd.name = string(name)
			src.unread(b)
			return cmd, &parseError{reply: replyCDE}
		}
		if !isLetter(b) || len(name) == maxName {
			cmd.name = string(name)
			src.unread(b)
			return cmd, skipLine(src, replyCDE)
		}
		name = append(name, b)
	}
	cmd.name = string(name)
	if len(name) == 0 {
		if term == ';' {
			return cmd, skipLine(src, replyCDE)
		}
		return cmd, &parseError{reply: replyCDE}
	}
	if cmd.name == "Db" || cmd.name == "Dbc" {
		if term != ';' {
			return cmd, &parseError{reply: replyParams}
		}
		return readDownload(src, cmd)
	}
	if term == cr {
		return cmd, nil
	}
	var text []byte
	for {
		b, err := src.byte(true)
		if err != nil {
			return cmd, err
		}
		if b == cr {
			break
		}
		if b == esc { // a new command cuts this one short
			src.unread(b)
			return cmd, &parseError{reply: replyParams}
		}
		if len(text) == maxParams {
			src.unread(b)
			return cmd, skipLine(src, replyParams)
		}
		text = append(text, b)
	}
	cmd.params = splitParams(string(text))
	return cmd, nil
}

func isLetter(b byte) bool { return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' }

// skipLine discards up to the next CR (or ESC, which starts the next
// command) and returns the parse error reply.
func skipLine(src *source, reply string) error {
	for {
		b, err := src.byte(true)
		if err != nil {
			return err
		}
		if b == esc {
			src.unread(b)
			return &parseError{reply: reply}
		}
		if b == cr {
			return &parseError{reply: reply}
		}
	}
}

func splitParams(s string) []string {
	var out []string
	for {
		i := indexByte(s, ';')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// field reads a parameter up to ';' before a payload. It reports the
// terminator: a CR here means the payload is missing.
func field(src *source) (string, byte, error) {
	var f []byte
	for {
		b, err := src.byte(true)
		if err != nil {
			return "", 0, err
		}
		if b == ';' || b == cr {
			return string(f), b, nil
		}
		if len(f) == maxField {
			return "", 0, &parseError{reply: replyParams, resync: true}
		}
		f = append(f, b)
	}
}

// readDownload reads the rest of Db;<panel>;<levels>;<data> CR or
// Dbc;<panel>;<levels>;<count>[;<first line>];<data> CR, taking the data by
// length, and decodes it into a print-order plane.
func readDownload(src *source, cmd command) (command, error) {
	bad := &parseError{reply: replyParams, resync: true}
	p, t, err := field(src)
	if err != nil {
		return cmd, err
	}
	if t != ';' || len(p) != 1 {
		return cmd, bad
	}
	cmd.panel = p[0]
	lv, t, err := field(src)
	if err != nil {
		return cmd, err
	}
	levels, perr := strconv.Atoi(lv)
	if t != ';' || perr != nil {
		return cmd, bad
	}
	cmd.params = []string{p, lv}
	size := rawPanelBytes(cmd.panel, levels)
	if size == 0 {
		return cmd, bad
	}
	first := 0
	if cmd.name == "Dbc" {
		cs, t, err := field(src)
		if err != nil {
			return cmd, err
		}
		size, perr = strconv.Atoi(cs)
		if t != ';' || perr != nil || size < 1 || size > maxDbc {
			return cmd, bad
		}
		// The four-parameter form: a second number and ';' before the data.
		second, ok, err := optionalNumber(src)
		if err != nil {
			return cmd, err
		}
		if ok {
			// Dbc;<panel>;<levels>;<count>;<first line>;<data>, unless only
			// the other order makes sense (a first line is below 1016).
			if second >= lines {
				size, second = second, size
			}
			if second >= lines || size < 1 || size > maxDbc {
				return cmd, bad
			}
			first = second
		}
	}
	data, err := src.full(size)
	if err != nil {
		return cmd, err
	}
	end, err := src.byte(true)
	if err != nil {
		return cmd, err
	}
	if end != cr {
		src.unread(end)
		return cmd, bad
	}
	// The panel is kept as received and decoded only when its card is
	// composited; a malformed one is refused here, as the printer does.
	pd := panelData{compressed: cmd.name == "Dbc", levels: levels, first: first, data: data}
	if err := pd.check(); err != nil {
		return cmd, &parseError{reply: replyParams}
	}
	cmd.payload = pd
	return cmd, nil
}

// optionalNumber reads digits followed by ';' if that is what comes next;
// otherwise it puts back what it read. Only bytes the host has sent in both
// forms are read: at most maxField digits, one at a time.
func optionalNumber(src *source) (int, bool, error) {
	var got []byte
	for len(got) <= maxField {
		b, err := src.byte(true)
		if err != nil {
			return 0, false, err
		}
		got = append(got, b)
		if b >= '0' && b <= '9' {
			continue
		}
		if b == ';' && len(got) > 1 {
			n, err := strconv.Atoi(string(got[:len(got)-1]))
			if err == nil {
				return n, true, nil
			}
		}
		break
	}
	src.buf = append(got, src.buf...)
	return 0, false, nil
}
