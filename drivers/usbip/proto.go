package usbip

import (
	"encoding/binary"
	"fmt"
	"io"
)

// USB/IP URB commands (usbip_common.h).
const (
	cmdSubmit = 0x0001
	cmdUnlink = 0x0002
	retSubmit = 0x0003
	retUnlink = 0x0004
)

// Directions in the basic header.
const (
	dirOut = 0
	dirIn  = 1
)

// Status values (negative errno) in RET_SUBMIT and RET_UNLINK.
const (
	statusOK         = 0
	statusEPIPE      = -32  // stall
	statusECONNRESET = -104 // unlinked
)

// headerLen is the size of every URB header.
const headerLen = 48

// maxTransfer bounds a transfer_buffer_length we accept.
const maxTransfer = 16 << 20

// header is a decoded 48-byte URB header; which fields mean something
// depends on command.
type header struct {
	command, seqnum, devid, direction, ep uint32
	// CMD_SUBMIT
	flags      uint32
	length     int32 // transfer_buffer_length
	startFrame int32
	numPackets int32
	interval   int32
	setup      [8]byte
	unlinkSeq  uint32 // CMD_UNLINK
}

// decodeHeader reads a 48-byte header.
func decodeHeader(b []byte) (header, error) {
	if len(b) != headerLen {
		return header{}, fmt.Errorf("usbip: header is %d bytes, want %d", len(b), headerLen)
	}
	be := binary.BigEndian
	h := header{
		command: be.Uint32(b[0:]), seqnum: be.Uint32(b[4:]), devid: be.Uint32(b[8:]),
		direction: be.Uint32(b[12:]), ep: be.Uint32(b[16:]),
	}
	switch h.command {
	case cmdSubmit:
		h.flags = be.Uint32(b[20:])
		h.length = int32(be.Uint32(b[24:]))
		h.startFrame = int32(be.Uint32(b[28:]))
		h.numPackets = int32(be.Uint32(b[32:]))
		h.interval = int32(be.Uint32(b[36:]))
		copy(h.setup[:], b[40:48])
		if h.length < 0 || h.length > maxTransfer {
			return h, fmt.Errorf("usbip: CMD_SUBMIT seqnum %d: transfer_buffer_length %d out of range 0..%d", h.seqnum, h.length, maxTransfer)
		}
		if h.direction != dirIn && h.direction != dirOut {
			return h, fmt.Errorf("usbip: CMD_SUBMIT seqnum %d: direction %d is neither 0 (out) nor 1 (in)", h.seqnum, h.direction)
		}
		if h.ep > 15 {
			return h, fmt.Errorf("usbip: CMD_SUBMIT seqnum %d: endpoint %d above 15", h.seqnum, h.ep)
		}
	case cmdUnlink:
		h.unlinkSeq = be.Uint32(b[20:])
	default:
		return h, fmt.Errorf("usbip: unknown URB command %#x (want CMD_SUBMIT 1 or CMD_UNLINK 2)", h.command)
	}
	return h, nil
}

// readCommand reads one command: its header and, for an OUT submit, its
// data.
func readCommand(r io.Reader) (header, []byte, error) {
	var b [headerLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return header{}, nil, err
	}
	h, err := decodeHeader(b[:])
	if err != nil {
		return h, nil, err
	}
	var data []byte
	if h.command == cmdSubmit && h.direction == dirOut && h.length > 0 {
		data = make([]byte, h.length)
		if _, err := io.ReadFull(r, data); err != nil {
			return h, nil, fmt.Errorf("usbip: CMD_SUBMIT seqnum %d: reading %d bytes of OUT data: %w", h.seqnum, h.length, err)
		}
	}
	if h.command == cmdSubmit && h.numPackets > 0 && h.numPackets != -1 {
		// Isochronous descriptors follow; a printer has no isochronous
		// endpoint, so refuse rather than lose sync.
		return h, nil, fmt.Errorf("usbip: CMD_SUBMIT seqnum %d: isochronous transfer (%d packets) on a printer", h.seqnum, h.numPackets)
	}
	return h, data, nil
}

// encodeRetSubmit builds a RET_SUBMIT, with data appended for IN.
func encodeRetSubmit(seq uint32, status int32, actual int, data []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(data))
	be := binary.BigEndian
	be.PutUint32(b[0:], retSubmit)
	be.PutUint32(b[4:], seq)
	be.PutUint32(b[20:], uint32(status))
	be.PutUint32(b[24:], uint32(actual))
	return append(b, data...)
}

// encodeRetUnlink builds a RET_UNLINK.
func encodeRetUnlink(seq uint32, status int32) []byte {
	b := make([]byte, headerLen)
	be := binary.BigEndian
	be.PutUint32(b[0:], retUnlink)
	be.PutUint32(b[4:], seq)
	be.PutUint32(b[20:], uint32(status))
	return b
}

// encodeSubmit builds a CMD_SUBMIT (used by tests and the loopback host).
func encodeSubmit(seq, devid, dir, ep uint32, length int, setup [8]byte, data []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(data))
	be := binary.BigEndian
	be.PutUint32(b[0:], cmdSubmit)
	be.PutUint32(b[4:], seq)
	be.PutUint32(b[8:], devid)
	be.PutUint32(b[12:], dir)
	be.PutUint32(b[16:], ep)
	be.PutUint32(b[24:], uint32(length))
	copy(b[40:], setup[:])
	return append(b, data...)
}

// encodeUnlink builds a CMD_UNLINK (used by tests).
func encodeUnlink(seq, devid, victim uint32) []byte {
	b := make([]byte, headerLen)
	be := binary.BigEndian
	be.PutUint32(b[0:], cmdUnlink)
	be.PutUint32(b[4:], seq)
	be.PutUint32(b[8:], devid)
	be.PutUint32(b[20:], victim)
	return b
}

// Operation codes of the TCP handshake (usbip_network.h).
const (
	opVersion    = 0x0111
	opReqDevlist = 0x8005
	opRepDevlist = 0x0005
	opReqImport  = 0x8003
	opRepImport  = 0x0003
)

// opCommon is the 8-byte header of an operation.
type opCommon struct {
	version, code uint16
	status        uint32
}

func (o opCommon) encode() []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], o.version)
	binary.BigEndian.PutUint16(b[2:], o.code)
	binary.BigEndian.PutUint32(b[4:], o.status)
	return b
}

func decodeOpCommon(b []byte) opCommon {
	return opCommon{
		version: binary.BigEndian.Uint16(b[0:]),
		code:    binary.BigEndian.Uint16(b[2:]),
		status:  binary.BigEndian.Uint32(b[4:]),
	}
}

// setup is a decoded USB SETUP packet (little-endian fields).
type setup struct {
	requestType, request uint8
	value, index, length uint16
}

func decodeSetup(b [8]byte) setup {
	le := binary.LittleEndian
	return setup{b[0], b[1], le.Uint16(b[2:]), le.Uint16(b[4:]), le.Uint16(b[6:])}
}

func (s setup) bytes() [8]byte {
	var b [8]byte
	b[0], b[1] = s.requestType, s.request
	le := binary.LittleEndian
	le.PutUint16(b[2:], s.value)
	le.PutUint16(b[4:], s.index)
	le.PutUint16(b[6:], s.length)
	return b
}
