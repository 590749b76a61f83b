package usb

import (
	"context"
	"sync"
	"time"

	"github.com/google/gousb"
)

// fakeLib is a table of fake USB devices standing in for libusb, in the
// manner of gousb's fakelibusb.
type fakeLib struct {
	mu      sync.Mutex
	noBus   bool
	devs    []*fakeDev
	opens   int // contexts made
	nextAdr int
}

// fakeDev is one fake device and what it does.
type fakeDev struct {
	desc                 *gousb.DeviceDesc
	manuf, prod, serial  string
	deviceID             []byte // raw GET_DEVICE_ID reply
	portStatus           byte
	softResetErr         error // SOFT_RESET fails with this
	openErr, claimErr    error
	maxWrite             int // >0: bulk OUT accepts at most this many bytes per transfer
	plugged              bool
	gen                  chan struct{} // closed on unplug
	in                   chan []byte   // bulk IN transfers the device will send
	rest                 [][]byte      // what did not fit the last IN buffer
	mu                   sync.Mutex
	out                  []byte // bulk OUT bytes received
	softResets, detached int
	controls             []fakeControl
}

type fakeControl struct {
	rType, req uint8
	val, idx   uint16
}

// printerDesc makes a device descriptor with one printer interface.
func printerDesc(vid, pid gousb.ID, proto gousb.Protocol, withIn bool) *gousb.DeviceDesc {
	eps := map[gousb.EndpointAddress]gousb.EndpointDesc{
		0x01: {Address: 0x01, Number: 1, Direction: gousb.EndpointDirectionOut, TransferType: gousb.TransferTypeBulk, MaxPacketSize: 512},
	}
	if withIn {
		eps[0x82] = gousb.EndpointDesc{Address: 0x82, Number: 2, Direction: gousb.EndpointDirectionIn, TransferType: gousb.TransferTypeBulk, MaxPacketSize: 512}
	}
	return &gousb.DeviceDesc{
		Bus: 1, Vendor: vid, Product: pid,
		Configs: map[int]gousb.ConfigDesc{1: {Number: 1, Interfaces: []gousb.InterfaceDesc{{
			Number: 0,
			AltSettings: []gousb.InterfaceSetting{{
				Number: 0, Alternate: 0, Class: classPrinter, SubClass: subclassPrinter, Protocol: proto, Endpoints: eps,
			}},
		}}}},
	}
}

// otherDesc is a non-printer device (a keyboard).
func otherDesc(vid, pid gousb.ID) *gousb.DeviceDesc {
	return &gousb.DeviceDesc{
		Bus: 1, Vendor: vid, Product: pid,
		Configs: map[int]gousb.ConfigDesc{1: {Number: 1, Interfaces: []gousb.InterfaceDesc{{
			AltSettings: []gousb.InterfaceSetting{{Class: gousb.ClassHID, Endpoints: map[gousb.EndpointAddress]gousb.EndpointDesc{
				0x81: {Address: 0x81, Number: 1, Direction: gousb.EndpointDirectionIn, TransferType: gousb.TransferTypeInterrupt},
			}}},
		}}}},
	}
}

func (l *fakeLib) add(d *fakeDev) *fakeDev {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextAdr++
	d.desc.Address = l.nextAdr
	d.plugged = true
	d.gen = make(chan struct{})
	if d.in == nil {
		d.in = make(chan []byte, 16)
	}
	l.devs = append(l.devs, d)
	return d
}

// unplug takes d off the bus: transfers in flight fail with no-device.
func (l *fakeLib) unplug(d *fakeDev) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d.plugged = false
	close(d.gen)
}

// replug puts d back on the bus at a new address.
func (l *fakeLib) replug(d *fakeDev) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextAdr++
	d.desc.Address = l.nextAdr
	d.plugged = true
	d.gen = make(chan struct{})
}

func (l *fakeLib) hasBus() (bool, string) {
	if l.noBus {
		return false, "no USB bus on this machine (fake)"
	}
	return true, ""
}

func (l *fakeLib) newContext() (libContext, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opens++
	return &fakeContext{l: l}, nil
}

type fakeContext struct{ l *fakeLib }

func (c *fakeContext) devices() ([]*gousb.DeviceDesc, error) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	var out []*gousb.DeviceDesc
	for _, d := range c.l.devs {
		if d.plugged {
			cp := *d.desc
			out = append(out, &cp)
		}
	}
	return out, nil
}

func (c *fakeContext) open(desc *gousb.DeviceDesc) (libDevice, error) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	for _, d := range c.l.devs {
		if d.plugged && d.desc.Address == desc.Address {
			if d.openErr != nil {
				return nil, d.openErr
			}
			return &fakeHandle{l: c.l, d: d, gen: d.gen}, nil
		}
	}
	return nil, gousb.ErrorNoDevice
}

func (c *fakeContext) close() error { return nil }

// fakeHandle is an open fakeDev; it stays bound to the plug generation it
// was opened in, as a real handle does.
type fakeHandle struct {
	l      *fakeLib
	d      *fakeDev
	gen    chan struct{}
	detach bool
}

func (h *fakeHandle) alive() bool {
	select {
	case <-h.gen:
		return false
	default:
		return true
	}
}

func (h *fakeHandle) strings() (string, string, string) { return h.d.manuf, h.d.prod, h.d.serial }

func (h *fakeHandle) setAutoDetach(on bool) error { h.detach = on; return nil }

func (h *fakeHandle) claim(cfg, intf, alt, out, in int) (libInterface, error) {
	if !h.alive() {
		return nil, gousb.ErrorNoDevice
	}
	if h.d.claimErr != nil {
		return nil, h.d.claimErr
	}
	if h.detach {
		h.d.mu.Lock()
		h.d.detached++
		h.d.mu.Unlock()
	}
	return &fakeIntf{h: h}, nil
}

func (h *fakeHandle) control(timeout time.Duration, rType, req uint8, val, idx uint16, data []byte) (int, error) {
	if !h.alive() {
		return 0, gousb.ErrorNoDevice
	}
	if timeout <= 0 {
		return 0, gousb.ErrorTimeout
	}
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	h.d.controls = append(h.d.controls, fakeControl{rType, req, val, idx})
	switch {
	case rType == rtClassIn && req == reqGetDeviceID:
		return copy(data, h.d.deviceID), nil
	case rType == rtClassIn && req == reqGetPortStatus:
		return copy(data, []byte{h.d.portStatus}), nil
	case rType == rtClassOut && req == reqSoftReset && h.d.softResetErr != nil:
		return 0, h.d.softResetErr
	case rType == rtClassOut && req == reqSoftReset:
		h.d.softResets++
		return 0, nil
	}
	return 0, gousb.ErrorPipe
}

func (h *fakeHandle) close() error { return nil }

type fakeIntf struct{ h *fakeHandle }

func (i *fakeIntf) write(ctx context.Context, p []byte) (int, error) {
	if !i.h.alive() {
		return 0, gousb.ErrorNoDevice
	}
	if err := ctx.Err(); err != nil {
		return 0, gousb.TransferCancelled
	}
	n := len(p)
	if i.h.d.maxWrite > 0 {
		n = min(n, i.h.d.maxWrite)
	}
	i.h.d.mu.Lock()
	i.h.d.out = append(i.h.d.out, p[:n]...)
	i.h.d.mu.Unlock()
	return n, nil
}

func (i *fakeIntf) read(ctx context.Context, p []byte) (int, error) {
	if !i.h.alive() {
		return 0, gousb.ErrorNoDevice
	}
	if len(i.h.d.rest) > 0 {
		b := i.h.d.rest[0]
		i.h.d.rest = i.h.d.rest[1:]
		n := copy(p, b)
		if n < len(b) {
			i.h.d.rest = append([][]byte{b[n:]}, i.h.d.rest...)
		}
		return n, nil
	}
	select {
	case b := <-i.h.d.in:
		// A transfer longer than the buffer ends at a full buffer (whole
		// packets); the device sends the rest in the next transfer.
		n := copy(p, b)
		if n < len(b) {
			i.h.d.rest = append(i.h.d.rest, b[n:])
		}
		return n, nil
	case <-i.h.gen:
		return 0, gousb.TransferNoDevice
	case <-ctx.Done():
		return 0, gousb.TransferCancelled
	}
}

func (i *fakeIntf) maxPacket() int { return 512 }

func (i *fakeIntf) close() {}
