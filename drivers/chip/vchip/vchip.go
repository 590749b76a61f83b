// Package vchip is a virtual chip card: an NFC Forum Type 4 tag (see
// drivers/chip/t4t) that a real PC/SC stack sees through vsmartcard's
// virtual reader driver (Debian's vsmartcard-vpcd), so that the host side
// of chip encoding runs against the real pcscd.
//
// # The vpcd protocol
//
// vpcd, loaded by pcscd, listens on TCP (127.0.0.1:35963 for the reader
// "Virtual PCD 00 00", 35964 for "Virtual PCD 00 01"). The virtual card is
// the client: connecting inserts the card, closing the socket removes it.
// Every message both ways is a 2-byte big-endian length and that many
// bytes. A 1-byte message from vpcd is a control: 0 power off, 1 power on,
// 2 reset, 4 "send the ATR" (the card answers with its ATR); any longer
// message is a command APDU, answered with the response APDU.
//
// # The chip
//
// The chip answers ISO/IEC 7816-4 SELECT of the NDEF application and of
// its two files, READ BINARY and UPDATE BINARY, and the PC/SC reader's
// GET DATA (FF CA 00 00) with its UID. Its NDEF file has a fixed size
// (Options.Size) and starts empty. It can be locked once by the CC update
// t4t.Lock sends (see Locking in t4t), after which every UPDATE BINARY is
// answered 6982. Options.Fault makes the faults a printer's encoder meets:
// no chip at all, a chip that refuses writes, a chip taken away in the
// middle of a write.
//
// Image returns what the chip holds, to be kept with the printed card.
package vchip

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/cityid/printerd/drivers/chip/t4t"
)

// Addresses of the two readers Debian's /etc/reader.conf.d/vpcd declares.
const (
	Addr0   = "127.0.0.1:35963"
	Reader0 = "Virtual PCD 00 00"
	Addr1   = "127.0.0.1:35964"
	Reader1 = "Virtual PCD 00 01"
)

// DefaultATR is the ATR a PC/SC contactless reader makes up for an ISO
// 14443-4 chip without historical bytes (PC/SC part 3, section 3.1.3.2.3):
// 3B 80 80 01 and the check byte.
var DefaultATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

// Fault is a chip fault to simulate.
type Fault int

// Faults.
const (
	NoFault        Fault = iota
	Missing              // Insert does not connect: the station holds no chip
	RefuseWrites         // every UPDATE BINARY is answered Options.RefuseSW
	RemoveMidWrite       // the chip goes away at UPDATE BINARY number RemoveAfter+1
)

// Options configure a chip. The zero value is a writable, lockable chip
// with a 1024-byte NDEF file, MLe and MLc of 255 and a random 7-byte UID.
type Options struct {
	UID      []byte // 4, 7 or 10 bytes; nil: random 7 bytes
	ATR      []byte // nil: DefaultATR
	Size     int    // NDEF file size, length field included (5 to 0x7FFF); 0: 1024
	MLe, MLc uint16 // most bytes per READ / UPDATE BINARY; 0: 255
	NoLock   bool   // the chip refuses the lock and stays writable
	Fault    Fault
	// RefuseSW is the status word of a RefuseWrites chip; 0: 6982.
	RefuseSW uint16
	// RemoveAfter is how many UPDATE BINARY commands a RemoveMidWrite chip
	// answers before it goes away.
	RemoveAfter int
}

// ErrRemoved is what Transmit returns once a RemoveMidWrite chip has gone.
var ErrRemoved = errors.New("vchip: chip removed")

// Chip is one virtual chip card. Its methods are safe for concurrent use.
type Chip struct {
	opts Options

	mu      sync.Mutex
	cc      t4t.CC
	ndef    []byte
	app     bool   // the NDEF application is selected
	file    uint16 // the selected file, 0 for none
	updates int
	gone    bool // RemoveMidWrite fired
	conn    net.Conn
	done    chan struct{}
	wg      sync.WaitGroup
}

// New makes a chip. It checks opts and fills in the defaults.
func New(opts Options) (*Chip, error) {
	if opts.UID == nil {
		opts.UID = make([]byte, 7)
		if _, err := rand.Read(opts.UID); err != nil {
			return nil, fmt.Errorf("vchip: uid: %w", err)
		}
	}
	if n := len(opts.UID); n != 4 && n != 7 && n != 10 {
		return nil, fmt.Errorf("vchip: options: UID of %d bytes: want 4, 7 or 10", n)
	}
	if opts.ATR == nil {
		opts.ATR = DefaultATR
	}
	if opts.Size == 0 {
		opts.Size = 1024
	}
	if opts.Size < t4t.MinMaxSize || opts.Size > 0x7FFF {
		return nil, fmt.Errorf("vchip: options: Size %d: want %d to %d", opts.Size, t4t.MinMaxSize, 0x7FFF)
	}
	if opts.MLe == 0 {
		opts.MLe = 255
	}
	if opts.MLc == 0 {
		opts.MLc = 255
	}
	if opts.MLe < 0x0F || opts.MLe > 256 || opts.MLc > 255 {
		return nil, fmt.Errorf("vchip: options: MLe %d and MLc %d: want 15 to 256 and 1 to 255 (short APDUs)", opts.MLe, opts.MLc)
	}
	if opts.RefuseSW == 0 {
		opts.RefuseSW = t4t.SWSecurity
	}
	c := &Chip{
		opts: opts,
		cc: t4t.CC{Version: 0x20, MLe: opts.MLe, MLc: opts.MLc, FileID: t4t.DefaultNDEFFile,
			MaxSize: uint16(opts.Size), ReadAccess: t4t.AccessGranted, WriteAccess: t4t.AccessGranted},
		ndef: make([]byte, opts.Size),
	}
	return c, nil
}

// UID returns the chip's UID.
func (c *Chip) UID() []byte { return bytes.Clone(c.opts.UID) }

// Image returns a copy of what the chip holds.
func (c *Chip) Image() t4t.Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	return t4t.Image{UID: bytes.Clone(c.opts.UID), CC: c.cc.Marshal(), NDEF: bytes.Clone(c.ndef)}
}

// Insert puts the chip into the virtual reader listening at addr (Addr0,
// Addr1): it connects and answers vpcd in the background until Remove, or
// until a RemoveMidWrite fault takes it away. A Missing chip does nothing.
func (c *Chip) Insert(ctx context.Context, addr string) error {
	if c.opts.Fault == Missing {
		return nil
	}
	c.mu.Lock()
	if c.conn != nil {
		c.mu.Unlock()
		return errors.New("vchip: insert: the chip is already in a reader")
	}
	c.mu.Unlock()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("vchip: insert into vpcd at %s (is pcscd with vsmartcard-vpcd running?): %w", addr, err)
	}
	c.mu.Lock()
	c.conn = conn
	c.done = make(chan struct{})
	c.reset()
	done := c.done
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.serve(conn)
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
		close(done)
	}()
	return nil
}

// Removed returns a channel closed once the chip has left the reader
// (Remove, or a RemoveMidWrite fault, or vpcd closing the connection); nil
// if it was never inserted.
func (c *Chip) Removed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// Remove takes the chip out of its reader: it closes the connection and
// waits for the goroutine serving it. It is safe to call twice, and on a
// chip never inserted.
func (c *Chip) Remove() error {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	c.wg.Wait()
	return nil
}

// serve answers vpcd until the connection ends.
func (c *Chip) serve(conn net.Conn) error {
	defer conn.Close()
	var hdr [2]byte
	buf := make([]byte, 0xFFFF)
	for {
		quickACK(conn)
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		msg := buf[:n]
		quickACK(conn)
		if _, err := io.ReadFull(conn, msg); err != nil {
			return err
		}
		var resp []byte
		switch {
		case n == 1:
			switch msg[0] {
			case 0, 1, 2: // power off, power on, reset: no answer
				c.mu.Lock()
				c.reset()
				c.mu.Unlock()
				continue
			case 4:
				resp = c.opts.ATR
			default:
				continue // unknown control: vpcd expects no answer
			}
		case n == 0:
			continue
		default:
			var ok bool
			resp, ok = c.process(msg)
			if !ok {
				return ErrRemoved // taken away mid-write: close without answering
			}
		}
		out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(resp)), uint16(len(resp)))
		if _, err := conn.Write(append(out, resp...)); err != nil {
			return err
		}
	}
}

// quickACK asks Linux to acknowledge the next segment at once. vpcd sends
// a message's length and its bytes in two writes, and with Nagle's
// algorithm on its side and delayed ACKs on ours every APDU would wait
// about 40 ms for the second write. The kernel clears the flag as it
// pleases, so it is set before every read.
func quickACK(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	if rc, err := tc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
}

// Transmit answers one command APDU directly, without vpcd: the chip as a
// chip.Transmitter, for tests of the host side. After a RemoveMidWrite
// fault it returns ErrRemoved.
func (c *Chip) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.opts.Fault == Missing {
		return nil, ErrRemoved
	}
	resp, ok := c.process(apdu)
	if !ok {
		return nil, ErrRemoved
	}
	return resp, nil
}

// reset is power-on: nothing selected. Called with c.mu held.
func (c *Chip) reset() { c.app, c.file = false, 0 }

func sw(s uint16, data ...byte) []byte { return binary.BigEndian.AppendUint16(data, s) }

// process answers one APDU; ok false means the chip has just gone away.
func (c *Chip) process(apdu []byte) (resp []byte, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return nil, false
	}
	if len(apdu) < 4 {
		return sw(t4t.SWWrongLength), true
	}
	cla, ins, p1, p2 := apdu[0], apdu[1], apdu[2], apdu[3]
	var data []byte
	le, hasLe := 0, false
	switch body := apdu[4:]; {
	case len(body) == 0:
	case len(body) == 1:
		le, hasLe = int(body[0]), true
	case body[0] == 0:
		return sw(t4t.SWWrongLength), true // extended length: not supported
	case len(body) == 1+int(body[0]):
		data = body[1:]
	case len(body) == 2+int(body[0]):
		data, le, hasLe = body[1:1+int(body[0])], int(body[len(body)-1]), true
	default:
		return sw(t4t.SWWrongLength), true
	}
	if hasLe && le == 0 {
		le = 256
	}
	switch {
	case cla == 0xFF && ins == t4t.InsGetData:
		if p1 != 0 || p2 != 0 {
			return sw(t4t.SWFuncNotSupp), true
		}
		uid := c.opts.UID
		if hasLe && le < len(uid) {
			return sw(0x6C00 | uint16(len(uid))), true
		}
		return sw(t4t.SWOK, bytes.Clone(uid)...), true
	case cla != 0x00:
		return sw(t4t.SWCLANotSupp), true
	case ins == t4t.InsSelect:
		return c.selectCmd(p1, p2, data), true
	case ins == t4t.InsReadBinary:
		return c.readBinary(p1, p2, le, hasLe), true
	case ins == t4t.InsUpdateBinary:
		if c.opts.Fault == RemoveMidWrite && c.updates >= c.opts.RemoveAfter {
			c.gone = true
			return nil, false
		}
		c.updates++
		return c.updateBinary(p1, p2, data), true
	}
	return sw(t4t.SWINSNotSupp), true
}

func (c *Chip) selectCmd(p1, p2 byte, data []byte) []byte {
	switch {
	case p1 == 0x04 && (p2 == 0x00 || p2 == 0x0C):
		if !bytes.Equal(data, t4t.AID) {
			c.app, c.file = false, 0
			return sw(t4t.SWNotFound)
		}
		c.app, c.file = true, 0
		return sw(t4t.SWOK)
	case p1 == 0x00 && (p2 == 0x00 || p2 == 0x0C):
		if len(data) != 2 {
			return sw(t4t.SWWrongLength)
		}
		id := binary.BigEndian.Uint16(data)
		if !c.app || (id != t4t.CCFile && id != c.cc.FileID) {
			return sw(t4t.SWNotFound)
		}
		c.file = id
		return sw(t4t.SWOK)
	}
	return sw(t4t.SWWrongP1P2)
}

// selected returns the selected file's bytes.
func (c *Chip) selected() []byte {
	switch c.file {
	case t4t.CCFile:
		return c.cc.Marshal()
	case c.cc.FileID:
		return c.ndef
	}
	return nil
}

func (c *Chip) readBinary(p1, p2 byte, le int, hasLe bool) []byte {
	f := c.selected()
	if f == nil {
		return sw(t4t.SWNotAllowed)
	}
	if p1&0x80 != 0 {
		return sw(t4t.SWWrongP1P2)
	}
	if !hasLe || le > int(c.opts.MLe) {
		return sw(t4t.SWWrongLength)
	}
	off := int(p1)<<8 | int(p2)
	if off > len(f) {
		return sw(t4t.SWOffsetBeyond)
	}
	n := min(le, len(f)-off)
	out := bytes.Clone(f[off : off+n])
	if n < le {
		return sw(t4t.SWEndOfFile, out...)
	}
	return sw(t4t.SWOK, out...)
}

func (c *Chip) updateBinary(p1, p2 byte, data []byte) []byte {
	if c.file == 0 {
		return sw(t4t.SWNotAllowed)
	}
	if c.opts.Fault == RefuseWrites {
		return sw(c.opts.RefuseSW)
	}
	if p1&0x80 != 0 {
		return sw(t4t.SWWrongP1P2)
	}
	if len(data) == 0 || len(data) > int(c.opts.MLc) {
		return sw(t4t.SWWrongLength)
	}
	off := int(p1)<<8 | int(p2)
	if c.file == t4t.CCFile {
		// The one change the CC takes: the lock (t4t package comment).
		if c.opts.NoLock || c.cc.Locked() || off != t4t.WriteAccessOffset || !bytes.Equal(data, []byte{t4t.AccessNone}) {
			return sw(t4t.SWSecurity)
		}
		c.cc.WriteAccess = t4t.AccessNone
		return sw(t4t.SWOK)
	}
	if c.cc.Locked() {
		return sw(t4t.SWSecurity)
	}
	if off+len(data) > len(c.ndef) {
		return sw(t4t.SWOffsetBeyond)
	}
	copy(c.ndef[off:], data)
	return sw(t4t.SWOK)
}
