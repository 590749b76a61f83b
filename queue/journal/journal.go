// Package journal is a local append-only file of records, each framed
// with its length and a CRC-32C checksum and synced to disk before Append
// returns. printerd keeps the outcome of every card in one (intent before
// the feed, outcome after) until the ledger, card_issues, events and audit
// have taken it, so that a crash or a NATS outage never loses the record
// of a card that came out.
//
// A frame is: 4 bytes big-endian payload length, 4 bytes big-endian
// CRC-32C (Castagnoli) of the payload, the payload. A torn or corrupt
// frame ends the journal: Open keeps the records before it, moves the
// bytes from it on to a side file (<path>.bad-<offset>) and truncates.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// MaxRecord is the largest payload a frame may carry.
const MaxRecord = 1 << 20

// headerLen is the frame header: length and checksum.
const headerLen = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Journal is an open journal file. Its methods are safe for concurrent use.
type Journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// Open opens (creating it with mode 0600) the journal at path and returns
// its records, oldest first. A torn or corrupt tail is cut off (and kept
// beside the journal, see the package doc); bad reports its offset, or -1.
func Open(path string) (j *Journal, records [][]byte, bad int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, -1, fmt.Errorf("journal: open: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, -1, fmt.Errorf("journal: read %s: %w", path, err)
	}
	records, end := Decode(b)
	bad = -1
	if end < len(b) {
		bad = int64(end)
		side := path + ".bad-" + strconv.Itoa(end)
		if werr := os.WriteFile(side, b[end:], 0o600); werr != nil {
			f.Close()
			return nil, nil, -1, fmt.Errorf("journal: keep the corrupt tail at byte %d: %w", end, werr)
		}
		if terr := f.Truncate(int64(end)); terr != nil {
			f.Close()
			return nil, nil, -1, fmt.Errorf("journal: truncate the corrupt tail at byte %d: %w", end, terr)
		}
		if serr := f.Sync(); serr != nil {
			f.Close()
			return nil, nil, -1, fmt.Errorf("journal: sync: %w", serr)
		}
	}
	if _, err := f.Seek(int64(end), io.SeekStart); err != nil {
		f.Close()
		return nil, nil, -1, fmt.Errorf("journal: seek: %w", err)
	}
	return &Journal{path: path, f: f}, records, bad, nil
}

// Decode reads frames from b until the first torn or corrupt one. It
// returns the payloads and the offset where the good frames end.
func Decode(b []byte) (records [][]byte, end int) {
	for end < len(b) {
		if len(b)-end < headerLen {
			return records, end
		}
		n := binary.BigEndian.Uint32(b[end:])
		sum := binary.BigEndian.Uint32(b[end+4:])
		if n == 0 || n > MaxRecord || uint64(len(b)-end-headerLen) < uint64(n) {
			return records, end
		}
		p := b[end+headerLen : end+headerLen+int(n)]
		if crc32.Checksum(p, castagnoli) != sum {
			return records, end
		}
		records = append(records, append([]byte(nil), p...))
		end += headerLen + int(n)
	}
	return records, end
}

// Encode returns the frame of one payload.
func Encode(p []byte) []byte {
	out := make([]byte, headerLen+len(p))
	binary.BigEndian.PutUint32(out, uint32(len(p)))
	binary.BigEndian.PutUint32(out[4:], crc32.Checksum(p, castagnoli))
	copy(out[headerLen:], p)
	return out
}

// ErrClosed is returned by a closed journal.
var ErrClosed = errors.New("journal: closed")

// Append writes one record and syncs the file before returning.
func (j *Journal) Append(p []byte) error {
	if len(p) == 0 || len(p) > MaxRecord {
		return fmt.Errorf("journal: record length %d: must be 1 to %d bytes", len(p), MaxRecord)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return ErrClosed
	}
	if _, err := j.f.Write(Encode(p)); err != nil {
		return fmt.Errorf("journal: append: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: sync: %w", err)
	}
	return nil
}

// Rewrite replaces the journal's records by records, atomically: a new
// file is written and synced, renamed over the journal, and the directory
// synced. It is how a journal sheds records nobody needs any more.
func (j *Journal) Rewrite(records [][]byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return ErrClosed
	}
	tmp := j.path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal: rewrite: %w", err)
	}
	for _, p := range records {
		if _, err = f.Write(Encode(p)); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("journal: rewrite: %w", err)
	}
	if d, derr := os.Open(filepath.Dir(j.path)); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	j.f.Close()
	j.f = f
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("journal: rewrite: %w", err)
	}
	return nil
}

// Close closes the file. Safe to call twice.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
