package usbip

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

func dialOp(t *testing.T, addr string, code uint16, extra []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(append(opCommon{opVersion, code, 0}.encode(), extra...)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTCPServer(t *testing.T) {
	d := New(Config{VendorID: 0x0f49, ProductID: 0x1001, BusID: "1-1"}, &fakeFn{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, d, ln) }()
	addr := ln.Addr().String()

	// OP_REQ_DEVLIST: one device, vid/pid, one printer interface.
	c := dialOp(t, addr, opReqDevlist, nil)
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil || len(b) != 8+4+312+4 {
		t.Fatalf("devlist reply %d bytes, %v", len(b), err)
	}
	op := decodeOpCommon(b)
	dev := b[12:]
	if op.code != opRepDevlist || op.version != opVersion || binary.BigEndian.Uint32(b[8:]) != 1 ||
		string(bytes.TrimRight(dev[256:288], "\x00")) != "1-1" ||
		binary.BigEndian.Uint16(dev[300:]) != 0x0f49 || binary.BigEndian.Uint16(dev[302:]) != 0x1001 ||
		!bytes.Equal(b[8+4+312:], []byte{7, 1, 2, 0}) {
		t.Fatalf("devlist reply % x", b[:16])
	}

	// Import of an unknown bus id is refused.
	var bad [32]byte
	copy(bad[:], "9-9")
	c = dialOp(t, addr, opReqImport, bad[:])
	b, _ = io.ReadAll(c)
	c.Close()
	if len(b) != 8 || decodeOpCommon(b).status != 1 {
		t.Fatalf("bad import reply % x, want status 1", b)
	}

	// Import, then URBs on the same connection.
	var busid [32]byte
	copy(busid[:], "1-1")
	c = dialOp(t, addr, opReqImport, busid[:])
	rep := make([]byte, 8+312)
	if _, err := io.ReadFull(c, rep); err != nil || decodeOpCommon(rep).status != 0 || decodeOpCommon(rep).code != opRepImport {
		t.Fatalf("import reply % x, %v", rep[:8], err)
	}
	c.Write(encodeSubmit(1, 0x10002, dirIn, 0, 18, setup{0x80, 6, 0x100, 0, 18}.bytes(), nil))
	r := make([]byte, headerLen+18)
	if _, err := io.ReadFull(c, r); err != nil || binary.BigEndian.Uint32(r) != retSubmit || r[headerLen+1] != 1 {
		t.Fatalf("descriptor over TCP % x, %v", r, err)
	}
	// While attached, a second import is refused.
	c2 := dialOp(t, addr, opReqImport, busid[:])
	b, _ = io.ReadAll(c2)
	c2.Close()
	if len(b) != 8 || decodeOpCommon(b).status != 1 {
		t.Fatalf("second import reply % x, want status 1", b)
	}
	// Unplug ends the connection; unplugged devices are not listed.
	d.Unplug()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Unplug")
	}
	c.Close()
	c = dialOp(t, addr, opReqDevlist, nil)
	b, _ = io.ReadAll(c)
	c.Close()
	if len(b) != 12 || binary.BigEndian.Uint32(b[8:]) != 0 {
		t.Fatalf("devlist while unplugged % x, want 0 devices", b)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
