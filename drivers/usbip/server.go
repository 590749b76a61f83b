package usbip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// handshakeTimeout bounds the OP_REQ exchange of a new TCP connection.
const handshakeTimeout = 10 * time.Second

// ListenAndServe listens on addr (e.g. 127.0.0.1:3240, the usbip port) and
// serves d until ctx ends.
func ListenAndServe(ctx context.Context, d *Device, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("usbip: listen on %s: %w", addr, err)
	}
	return Serve(ctx, d, ln)
}

// Serve answers usbip clients on ln until ctx ends: OP_REQ_DEVLIST lists d
// (while plugged in), OP_REQ_IMPORT attaches it (one host at a time) and
// the connection then carries URBs. It closes ln.
func Serve(ctx context.Context, d *Device, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("usbip: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := handle(ctx, d, conn); err != nil {
				slog.Warn("usbip: client", "remote", conn.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// handle runs one client connection.
func handle(ctx context.Context, d *Device, conn net.Conn) error {
	conn.SetDeadline(time.Now().Add(handshakeTimeout))
	var hb [8]byte
	if _, err := io.ReadFull(conn, hb[:]); err != nil {
		conn.Close()
		return fmt.Errorf("usbip: reading the operation header: %w", err)
	}
	op := decodeOpCommon(hb[:])
	switch op.code {
	case opReqDevlist:
		defer conn.Close()
		var b bytes.Buffer
		b.Write(opCommon{opVersion, opRepDevlist, 0}.encode())
		if d.Plugged() {
			b.Write(binary.BigEndian.AppendUint32(nil, 1))
			b.Write(d.cfg.usbipDevice())
			b.Write(d.cfg.usbipInterface())
		} else {
			b.Write(binary.BigEndian.AppendUint32(nil, 0))
		}
		_, err := conn.Write(b.Bytes())
		return err
	case opReqImport:
		var busid [32]byte
		if _, err := io.ReadFull(conn, busid[:]); err != nil {
			conn.Close()
			return fmt.Errorf("usbip: reading the import busid: %w", err)
		}
		want := string(bytes.TrimRight(busid[:], "\x00"))
		ok := want == d.cfg.BusID && d.Plugged() && !d.Attached()
		if !ok {
			conn.Write(opCommon{opVersion, opRepImport, 1}.encode())
			conn.Close()
			return fmt.Errorf("usbip: import of %q refused (have %q, plugged %v, attached %v)", want, d.cfg.BusID, d.Plugged(), d.Attached())
		}
		if _, err := conn.Write(append(opCommon{opVersion, opRepImport, 0}.encode(), d.cfg.usbipDevice()...)); err != nil {
			conn.Close()
			return err
		}
		conn.SetDeadline(time.Time{})
		slog.Info("usbip: device imported", "busid", want, "remote", conn.RemoteAddr().String())
		err := d.ServeConn(ctx, conn)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	conn.Close()
	return fmt.Errorf("usbip: unknown operation %#04x (want OP_REQ_DEVLIST 0x8005 or OP_REQ_IMPORT 0x8003)", op.code)
}
