package vchip

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestAPDUs walks the Type 4 tag commands in order; each step's answer
// depends on the ones before (selection, writes, lock).
func TestAPDUs(t *testing.T) {
	c, err := New(Options{UID: h("04112233445566"), Size: 32, MLe: 16, MLc: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ name, cmd, resp string }{
		{"uid", "FFCA000000", "04112233445566 9000"},
		{"uid short Le", "FFCA000004", "6C07"},
		{"historical bytes", "FFCA010000", "6A81"},
		{"read before select", "00B0000002", "6986"},
		{"select file before app", "00A4000C02E103", "6A82"},
		{"wrong CLA", "80A4040007D276000085010100", "6E00"},
		{"unknown INS", "0012000000", "6D00"},
		{"short APDU", "00A4", "6700"},
		{"bad Lc", "00A4040007D27600", "6700"},
		{"select other app", "00A4040007A000000003101000", "6A82"},
		{"select app", "00A4040007D276000085010100", "9000"},
		{"select unknown file", "00A4000C02E105", "6A82"},
		{"select CC", "00A4000C02E103", "9000"},
		{"read CC", "00B000000F", "000F 20 0010 0008 0406 E104 0020 00 00 9000"},
		{"read past MLe", "00B0000011", "6700"},
		{"read at end", "00B0000D04", "0000 6282"},
		{"read beyond", "00B0001001", "6B00"},
		{"update CC elsewhere", "00D6000201FF", "6982"},
		{"select NDEF", "00A4000C02E104", "9000"},
		{"read NLEN", "00B0000002", "0000 9000"},
		{"update", "00D6000004D0000000", "9000"},
		{"update past MLc", "00D6000009010203040506070809", "6700"},
		{"update beyond", "00D6001F020102", "6B00"},
		{"read back", "00B0000004", "D0000000 9000"},
		{"lock", "00A4000C02E103", "9000"},
		{"lock byte", "00D6000E01FF", "9000"},
		{"CC locked", "00B0000E01", "FF 9000"},
		{"lock again", "00D6000E01FF", "6982"},
		{"select NDEF again", "00A4000C02E104", "9000"},
		{"update locked", "00D6000001AA", "6982"},
		{"unchanged", "00B0000001", "D0 9000"},
	} {
		resp, err := c.Transmit(context.Background(), h(step.cmd))
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if want := h(step.resp); !bytes.Equal(resp, want) {
			t.Fatalf("%s: %s answered % X, want % X", step.name, step.cmd, resp, want)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{UID: []byte{1, 2}}, {Size: 4}, {Size: 0x8000}, {MLe: 14}, {MLc: 256}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	a, _ := New(Options{})
	b, _ := New(Options{})
	if len(a.UID()) != 7 || bytes.Equal(a.UID(), b.UID()) {
		t.Fatal("default UIDs are not random 7-byte values")
	}
}

// fakeVPCD plays pcscd's vpcd side on a real TCP socket.
type fakeVPCD struct {
	t    *testing.T
	conn net.Conn
}

func (v fakeVPCD) send(msg []byte) {
	v.t.Helper()
	// two writes, as vpcd does
	if _, err := v.conn.Write(binary.BigEndian.AppendUint16(nil, uint16(len(msg)))); err != nil {
		v.t.Fatal(err)
	}
	if _, err := v.conn.Write(msg); err != nil {
		v.t.Fatal(err)
	}
}

func (v fakeVPCD) recv() ([]byte, error) {
	v.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(v.conn, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(v.conn, b)
	return b, err
}

func TestVPCDProtocol(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := New(Options{Fault: RemoveMidWrite, RemoveAfter: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(context.Background(), ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetNoDelay(false) // Nagle on, as in vpcd
	v := fakeVPCD{t, conn}
	v.send([]byte{1}) // power on: no answer
	v.send([]byte{4}) // ATR
	if got, err := v.recv(); err != nil || !bytes.Equal(got, DefaultATR) {
		t.Fatalf("ATR % X, %v", got, err)
	}
	start := time.Now()
	for range 20 {
		v.send(h("00A4040007D276000085010100"))
		if got, err := v.recv(); err != nil || !bytes.Equal(got, h("9000")) {
			t.Fatalf("SELECT answered % X, %v", got, err)
		}
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("20 APDUs took %v: delayed ACKs are back", d)
	}
	v.send(h("00A4000C02E104"))
	v.recv()
	v.send(h("00D600000100"))
	if got, _ := v.recv(); !bytes.Equal(got, h("9000")) {
		t.Fatalf("first UPDATE answered % X", got)
	}
	v.send(h("00D600000100")) // the chip leaves now
	if _, err := v.recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the removal: %v, want EOF", err)
	}
	select {
	case <-c.Removed():
	case <-time.After(5 * time.Second):
		t.Fatal("Removed() not closed")
	}
	if _, err := c.Transmit(context.Background(), h("00B0000001")); !errors.Is(err, ErrRemoved) {
		t.Fatalf("Transmit after removal: %v", err)
	}
}
