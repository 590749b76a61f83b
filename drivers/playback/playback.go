package playback

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"os"
	"strconv"
	"sync"

	"github.com/cityid/printerd/drivers"
)

// Playback is a drivers.Link that plays a recorded exchange. The first
// unexpected operation or byte fails the playback: that call and every later
// one return the same error, and so does Close.
type Playback struct {
	mu     sync.Mutex
	ops    []Op
	i      int // current operation
	off    int // bytes of ops[i] done
	h      hash.Hash
	err    error
	closed bool
}

var _ drivers.LinkCloser = (*Playback)(nil)

// New returns a Playback of ops.
func New(ops []Op) *Playback { return &Playback{ops: ops} }

// Open reads an exchange file in the text format and returns its Playback.
func Open(path string) (*Playback, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("playback: %w", err)
	}
	defer f.Close()
	ops, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("playback: %s: %w", path, err)
	}
	return New(ops), nil
}

// fail records the first failure and returns it.
func (p *Playback) fail(format string, args ...any) error {
	if p.err == nil {
		p.err = fmt.Errorf("playback: operation %d: "+format, append([]any{p.i + 1}, args...)...)
	}
	return p.err
}

func (p *Playback) expecting() string {
	if p.i >= len(p.ops) {
		return "the end of the exchange"
	}
	return p.ops[p.i].String()
}

// Write checks p against the recorded host writes.
func (p *Playback) Write(ctx context.Context, b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return 0, p.err
	}
	if p.closed {
		return 0, p.fail("write after close")
	}
	done := 0
	for done < len(b) {
		if p.i >= len(p.ops) {
			return done, p.fail("host wrote %d more bytes after the end of the exchange, starting %s", len(b)-done, snippet(b[done:]))
		}
		op := p.ops[p.i]
		rest := b[done:]
		switch op.Kind {
		case Write:
			want := op.Data[p.off:]
			n := min(len(want), len(rest))
			if i := mismatch(want[:n], rest[:n]); i >= 0 {
				return done + i, p.fail("host wrote byte %d of %s as 0x%02x, want 0x%02x (got %s)",
					p.off+i, op, rest[i], want[i], snippet(rest[i:]))
			}
			p.off += n
			done += n
		case Blob:
			if p.h == nil {
				p.h = sha256.New()
			}
			n := min(op.Len-p.off, len(rest))
			p.h.Write(rest[:n])
			p.off += n
			done += n
			if p.off == op.Len {
				var sum [32]byte
				copy(sum[:], p.h.Sum(nil))
				p.h = nil
				if sum != op.Sum {
					return done, p.fail("host wrote %d bytes whose sha256 differs from %s", op.Len, op)
				}
			}
		default:
			return done, p.fail("host wrote %s where the exchange expects %s", snippet(rest), op)
		}
		if p.off == p.opLen(op) {
			p.i++
			p.off = 0
		}
	}
	return done, nil
}

func (p *Playback) opLen(op Op) int {
	if op.Kind == Blob {
		return op.Len
	}
	return len(op.Data)
}

// Read returns the recorded reply. A silence blocks until ctx is done.
func (p *Playback) Read(ctx context.Context, b []byte) (int, error) {
	p.mu.Lock()
	if p.err != nil {
		defer p.mu.Unlock()
		return 0, p.err
	}
	if p.i >= len(p.ops) {
		defer p.mu.Unlock()
		return 0, p.fail("host reads after the end of the exchange")
	}
	op := p.ops[p.i]
	switch op.Kind {
	case Reply:
		n := copy(b, op.Data[p.off:])
		p.off += n
		if p.off == len(op.Data) {
			p.i++
			p.off = 0
		}
		p.mu.Unlock()
		return n, nil
	case Silence:
		p.mu.Unlock()
		<-ctx.Done()
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.i < len(p.ops) && p.ops[p.i].Kind == Silence {
			p.i++
		}
		return 0, ctx.Err()
	}
	defer p.mu.Unlock()
	if p.off > 0 {
		return 0, p.fail("host reads after writing only %d bytes of %s", p.off, op)
	}
	return 0, p.fail("host reads where the exchange expects %s", op)
}

// Reset checks that the recording resets the link here.
func (p *Playback) Reset(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if p.i < len(p.ops) && p.ops[p.i].Kind == Reset && p.off == 0 {
		p.i++
		return nil
	}
	return p.fail("host resets the link where the exchange expects %s", p.expecting())
}

// Err returns the first failure, or an error naming the first operation
// that has not happened yet, or nil when the whole exchange was played.
func (p *Playback) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if p.i < len(p.ops) {
		return fmt.Errorf("playback: %d of %d operations never happened, the first: %s", len(p.ops)-p.i, len(p.ops), p.expecting())
	}
	return nil
}

// Close ends the playback and returns Err. Calling it twice is safe.
func (p *Playback) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return p.Err()
}

// Done is Err under the name periph uses.
func (p *Playback) Done() error { return p.Err() }

func mismatch(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func snippet(b []byte) string {
	if len(b) > 24 {
		return strconv.Quote(string(b[:24])) + "..."
	}
	return strconv.Quote(string(b))
}

// Record is a drivers.Link that passes everything through to another link
// and keeps the exchange, for writing as a fixture with Format.
type Record struct {
	Link drivers.Link

	mu  sync.Mutex
	ops []Op
}

var _ drivers.Link = (*Record)(nil)

// blobAbove is the write size from which Record keeps a command's binary
// payload as a blob.
const blobAbove = 256

// Write records and forwards b. A large write (a bitmap download) is kept
// as its readable head (the command and its parameters), a blob, and its
// tail of CR and NUL bytes.
func (r *Record) Write(ctx context.Context, b []byte) (int, error) {
	n, err := r.Link.Write(ctx, b)
	r.add(writeOps(b[:n])...)
	return n, err
}

func writeOps(b []byte) []Op {
	if len(b) == 0 {
		return nil
	}
	if len(b) <= blobAbove {
		return []Op{{Kind: Write, Data: bytes.Clone(b)}}
	}
	head := headLen(b)
	end := len(b)
	for end > head && (b[end-1] == 0 || b[end-1] == '\r') {
		end--
	}
	var ops []Op
	if head > 0 {
		ops = append(ops, Op{Kind: Write, Data: bytes.Clone(b[:head])})
	}
	if end > head {
		ops = append(ops, BlobOf(b[head:end]))
	}
	if end < len(b) {
		ops = append(ops, Op{Kind: Write, Data: bytes.Clone(b[end:])})
	}
	return ops
}

// headLen returns the length of a large write's readable head: through the
// parameter separators of a bitmap download (3 for Db, 4 for Dbc), through
// the header of a Magicard job (0x05 lead, 0x01, header, 0x1C), else up to
// the last ';' in its first 40 bytes.
func headLen(b []byte) int {
	fields := 0
	switch {
	case len(b) > 0 && b[0] == 0x05:
		if soh := bytes.IndexByte(b[:min(len(b), 128)], 0x01); soh >= 0 {
			if end := bytes.IndexByte(b[soh:min(len(b), 4096)], 0x1C); end >= 0 {
				return soh + end + 1
			}
		}
		return 0
	case bytes.HasPrefix(b, []byte("\x1bDbc;")):
		fields = 4
	case bytes.HasPrefix(b, []byte("\x1bDb;")):
		fields = 3
	default:
		return bytes.LastIndexByte(b[:min(len(b), 40)], ';') + 1
	}
	for i := 0; i < min(len(b), 40); i++ {
		if b[i] == ';' {
			fields--
			if fields == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// Read forwards and records what the printer sent, or a silence when the
// read ended with its context.
func (r *Record) Read(ctx context.Context, b []byte) (int, error) {
	n, err := r.Link.Read(ctx, b)
	if n > 0 {
		r.add(Op{Kind: Reply, Data: bytes.Clone(b[:n])})
	} else if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		r.add(Op{Kind: Silence})
	}
	return n, err
}

// Reset records and forwards a reset.
func (r *Record) Reset(ctx context.Context) error {
	r.add(Op{Kind: Reset})
	return r.Link.Reset(ctx)
}

// SetLabel passes a card label on when the inner link takes one.
func (r *Record) SetLabel(label string) {
	if l, ok := r.Link.(drivers.Labeler); ok {
		l.SetLabel(label)
	}
}

// Ops returns the operations recorded so far, consecutive writes and
// replies merged.
func (r *Record) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

func (r *Record) add(ops ...Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range ops {
		if n := len(r.ops); n > 0 && (o.Kind == Write || o.Kind == Reply) && r.ops[n-1].Kind == o.Kind {
			r.ops[n-1].Data = append(r.ops[n-1].Data, o.Data...)
			continue
		}
		r.ops = append(r.ops, o)
	}
}
