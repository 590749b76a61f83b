package usbip

import (
	"context"
	"io"
	"net"
	"testing"
)

// BenchmarkBulkOut measures the device side of bulk OUT: 16 KiB CMD_SUBMITs
// (the size libusb submits) decoded, fed to Stream and answered, over an
// in-memory pipe (no kernel).
func BenchmarkBulkOut(b *testing.B) {
	d := New(Config{}, &fakeFn{})
	a, c := net.Pipe()
	defer a.Close()
	go d.ServeConn(context.Background(), c)
	go io.Copy(io.Discard, d.Stream())
	go io.Copy(io.Discard, a) // RET_SUBMITs
	data := make([]byte, 16<<10)
	msg := encodeSubmit(1, 0, dirOut, epOut, len(data), [8]byte{}, data)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
}
