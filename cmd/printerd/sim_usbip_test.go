package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// printerd sim --usbip serves a printer-class device that usbip clients
// list: the OP_REQ_DEVLIST reply names bus id 1-1, 0f49:1234 (a Magicard
// Enduro: 0c1f:4800) and interface 7/1/2.
func TestSimUSBIP(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		vid, pid uint16
	}{
		{nil, 0x0f49, 0x1234},
		{[]string{"--lang", "magicard", "--layout", "kge"}, 0x0c1f, 0x4800},
	} {
		simUSBIP(t, tc.args, tc.vid, tc.pid)
	}
}

func simUSBIP(t *testing.T, args []string, vid, pid uint16) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, append([]string{"sim", "--usbip", addr}, args...), io.Discard, &stderr) }()

	var reply []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte{0x01, 0x11, 0x80, 0x05, 0, 0, 0, 0}) // OP_REQ_DEVLIST
			reply, err = io.ReadAll(c)
			c.Close()
			if err == nil && len(reply) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no usbip server on %s: %v (stderr: %s)", addr, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(reply) != 8+4+312+4 || binary.BigEndian.Uint32(reply[8:]) != 1 {
		t.Fatalf("devlist reply of %d bytes, want one device", len(reply))
	}
	dev := reply[12:]
	if string(bytes.TrimRight(dev[256:288], "\x00")) != "1-1" || binary.BigEndian.Uint16(dev[300:]) != vid || binary.BigEndian.Uint16(dev[302:]) != pid ||
		!bytes.Equal(reply[len(reply)-4:], []byte{7, 1, 2, 0}) {
		t.Fatalf("devlist device % x", dev[256:312])
	}
	cancel()
	select {
	case rc := <-done:
		if rc != exitOK {
			t.Fatalf("printerd sim --usbip exited %d: %s", rc, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("printerd sim --usbip did not stop on cancel")
	}
}
