package t4t

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cityid/printerd/drivers/chip"
)

// maxShortOffset is the largest offset a short READ or UPDATE BINARY can
// address (P1 bit 8 must be 0).
const maxShortOffset = 0x7FFF

// Tag is a Type 4 tag reached through a chip.Transmitter, its NDEF
// application selected and its capability container read. It is not safe
// for concurrent use.
type Tag struct {
	tx       chip.Transmitter
	cc       CC
	selected uint16
}

// Open selects the NDEF tag application, reads and checks its capability
// container. Errors are *chip.Error: NotSupported when the chip has no
// such application, Protocol when its CC is malformed.
func Open(ctx context.Context, tx chip.Transmitter) (*Tag, error) {
	t := &Tag{tx: tx}
	if _, err := t.command(ctx, "select application", SelectApp(), notSupportedOn(SWNotFound, SWFuncNotSupp)); err != nil {
		return nil, err
	}
	if err := t.selectFile(ctx, CCFile); err != nil {
		return nil, err
	}
	b, err := t.read(ctx, "read capability container", 0, ccLen)
	if err != nil {
		return nil, err
	}
	if t.cc, err = ParseCC(b); err != nil {
		return nil, &chip.Error{Op: "read capability container", Code: chip.Protocol, Err: err}
	}
	return t, nil
}

// CC returns the capability container as read by Open (or by Lock).
func (t *Tag) CC() CC { return t.cc }

// ReadNDEF returns the NDEF message in the NDEF file (empty when the
// file's length field is 0).
func (t *Tag) ReadNDEF(ctx context.Context) ([]byte, error) {
	if err := t.selectFile(ctx, t.cc.FileID); err != nil {
		return nil, err
	}
	nb, err := t.read(ctx, "read NDEF length", 0, 2)
	if err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(nb))
	if n > int(t.cc.MaxSize)-2 || n > maxShortOffset-2 {
		return nil, &chip.Error{Op: "read NDEF length", Code: chip.Protocol,
			Err: fmt.Errorf("t4t: NLEN %d exceeds the NDEF file size %d less 2", n, t.cc.MaxSize)}
	}
	msg := make([]byte, 0, n)
	for len(msg) < n {
		chunk := min(n-len(msg), int(min(t.cc.MLe, 256)))
		b, err := t.read(ctx, "read NDEF message", uint16(2+len(msg)), chunk)
		if err != nil {
			return nil, err
		}
		msg = append(msg, b...)
	}
	return msg, nil
}

// WriteNDEF writes msg into the NDEF file the way the Type 4 tag
// specification's update procedure does: the length field set to 0 first,
// the message in chunks of at most MLc bytes, the length field last, so
// that a chip removed in the middle holds an empty file, not a torn
// message. It returns the number of bytes written to the file.
func (t *Tag) WriteNDEF(ctx context.Context, msg []byte) (int, error) {
	const op = "write NDEF message"
	if t.cc.Locked() {
		return 0, &chip.Error{Op: op, Code: chip.WriteRefused, Err: errors.New("t4t: the capability container says the NDEF file is read-only")}
	}
	if len(msg) == 0 || len(msg)+2 > int(t.cc.MaxSize) || len(msg)+2 > maxShortOffset {
		return 0, &chip.Error{Op: op, Code: chip.TooLarge,
			Err: fmt.Errorf("t4t: message of %d bytes: the NDEF file holds 1 to %d", len(msg), min(int(t.cc.MaxSize), maxShortOffset)-2)}
	}
	if err := t.selectFile(ctx, t.cc.FileID); err != nil {
		return 0, err
	}
	if err := t.update(ctx, "clear NDEF length", 0, []byte{0, 0}); err != nil {
		return 0, err
	}
	if err := t.update(ctx, op, 2, msg); err != nil {
		return 0, err
	}
	if err := t.update(ctx, "set NDEF length", 0, binary.BigEndian.AppendUint16(nil, uint16(len(msg)))); err != nil {
		return 0, err
	}
	return 2 + len(msg), nil
}

// Lock makes the NDEF file read-only where the chip allows it (see
// Locking in the package comment) and reports whether the capability
// container, read back, says it is. A chip that refuses the lock is not an
// error: it stays writable and Lock returns false.
func (t *Tag) Lock(ctx context.Context) (bool, error) {
	if t.cc.Locked() {
		return true, nil
	}
	if err := t.selectFile(ctx, CCFile); err != nil {
		return false, err
	}
	_, sw, err := transmit(ctx, t.tx, "lock", UpdateBinary(WriteAccessOffset, []byte{AccessNone}))
	if err != nil {
		return false, err
	}
	if sw != SWOK {
		return false, nil // the chip does not allow it
	}
	b, err := t.read(ctx, "read back capability container", 0, ccLen)
	if err != nil {
		return false, err
	}
	cc, err := ParseCC(b)
	if err != nil {
		return false, &chip.Error{Op: "read back capability container", Code: chip.Protocol, Err: err}
	}
	t.cc = cc
	return cc.Locked(), nil
}

// ReadUID asks for the chip's UID with the PC/SC GET DATA command. A
// reader or chip that does not support it (a contact chip) gives nil and
// no error.
func ReadUID(ctx context.Context, tx chip.Transmitter) ([]byte, error) {
	uid, sw, err := transmit(ctx, tx, "read UID", GetUID())
	if err != nil {
		return nil, err
	}
	if sw != SWOK {
		return nil, nil
	}
	return bytes.Clone(uid), nil
}

// Encode writes msg as the chip's NDEF message, reads it back and
// compares, locks the file where the chip allows and reads the UID: the
// whole encoding of one card over tx. Errors are *chip.Error.
func Encode(ctx context.Context, tx chip.Transmitter, msg []byte) (chip.Result, error) {
	var res chip.Result
	uid, err := ReadUID(ctx, tx)
	if err != nil {
		return res, err
	}
	tag, err := Open(ctx, tx)
	if err != nil {
		return res, err
	}
	if res.Written, err = tag.WriteNDEF(ctx, msg); err != nil {
		return res, err
	}
	back, err := tag.ReadNDEF(ctx)
	if err != nil {
		return res, withOp(err, "read back")
	}
	if !bytes.Equal(back, msg) {
		return res, &chip.Error{Op: "read back", Code: chip.Mismatch,
			Err: fmt.Errorf("t4t: read back %d bytes, wrote %d, or they differ", len(back), len(msg))}
	}
	if res.Locked, err = tag.Lock(ctx); err != nil {
		return res, err
	}
	res.UID = uid
	return res, nil
}

// withOp prefixes a *chip.Error's Op.
func withOp(err error, op string) error {
	var ce *chip.Error
	if errors.As(err, &ce) {
		c := *ce
		c.Op = op + ": " + c.Op
		return &c
	}
	return err
}

// swCodes maps status words to codes for one command.
type swCodes map[uint16]chip.Code

// notSupportedOn maps the given status words to chip.NotSupported.
func notSupportedOn(sws ...uint16) swCodes {
	m := swCodes{}
	for _, sw := range sws {
		m[sw] = chip.NotSupported
	}
	return m
}

// command transmits apdu and returns the response data when the status is
// 9000; other statuses become a *chip.Error with the code codes gives
// (chip.Protocol by default).
func (t *Tag) command(ctx context.Context, op string, apdu []byte, codes swCodes) ([]byte, error) {
	data, sw, err := transmit(ctx, t.tx, op, apdu)
	if err != nil {
		return nil, err
	}
	if sw == SWOK {
		return data, nil
	}
	code, ok := codes[sw]
	if !ok {
		code = chip.Protocol
	}
	return nil, &chip.Error{Op: op, Code: code, SW: sw}
}

// transmit sends apdu and splits the response. A response without a
// status word means the chip did not answer: vpcd, for one, reports a
// chip gone in the middle of a command as an empty response.
func transmit(ctx context.Context, tx chip.Transmitter, op string, apdu []byte) ([]byte, uint16, error) {
	resp, err := tx.Transmit(ctx, apdu)
	if err != nil {
		return nil, 0, transmitErr(op, err)
	}
	if len(resp) < 2 {
		return nil, 0, &chip.Error{Op: op, Code: chip.Removed, Err: fmt.Errorf("t4t: a response of %d bytes, without a status word", len(resp))}
	}
	data, sw := SW(resp)
	return data, sw, nil
}

// transmitErr keeps a *chip.Error from the link (the PC/SC layer says
// Removed, Offline...) and classifies anything else as Removed: the chip
// stopped answering.
func transmitErr(op string, err error) error {
	var ce *chip.Error
	if errors.As(err, &ce) {
		return withOp(err, op)
	}
	return &chip.Error{Op: op, Code: chip.Removed, Err: err}
}

func (t *Tag) selectFile(ctx context.Context, id uint16) error {
	if t.selected == id {
		return nil
	}
	t.selected = 0
	if _, err := t.command(ctx, fmt.Sprintf("select file %04X", id), SelectFile(id), notSupportedOn(SWNotFound)); err != nil {
		return err
	}
	t.selected = id
	return nil
}

func (t *Tag) read(ctx context.Context, op string, off uint16, n int) ([]byte, error) {
	b, err := t.command(ctx, op, ReadBinary(off, n), nil)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, &chip.Error{Op: op, Code: chip.Protocol, Err: fmt.Errorf("t4t: READ BINARY at %d: %d bytes, asked for %d", off, len(b), n)}
	}
	return b, nil
}

// writeRefused are the status words of a chip that will not be written.
var writeRefused = swCodes{
	SWSecurity: chip.WriteRefused, SWNotFound: chip.WriteRefused, 0x6985: chip.WriteRefused,
	SWNotAllowed: chip.WriteRefused, SWINSNotSupp: chip.WriteRefused, 0x6581: chip.WriteRefused,
	SWNotEnoughSpace: chip.TooLarge, SWOffsetBeyond: chip.TooLarge,
}

// update writes data at off in UPDATE BINARYs of at most MLc bytes.
func (t *Tag) update(ctx context.Context, op string, off uint16, data []byte) error {
	step := int(min(t.cc.MLc, 255))
	for i := 0; i < len(data); i += step {
		end := min(i+step, len(data))
		if _, err := t.command(ctx, op, UpdateBinary(off+uint16(i), data[i:end]), writeRefused); err != nil {
			return err
		}
	}
	return nil
}

// NDEFLength reads only the NDEF file's length field: how many bytes of
// message the tag holds, without reading them (diagnostics).
func (t *Tag) NDEFLength(ctx context.Context) (int, error) {
	if err := t.selectFile(ctx, t.cc.FileID); err != nil {
		return 0, err
	}
	nb, err := t.read(ctx, "read NDEF length", 0, 2)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(nb)), nil
}
