package playback

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Kind is the kind of one recorded operation.
type Kind int

// Operation kinds.
const (
	Write   Kind = iota // the host writes Data
	Blob                // the host writes Len bytes whose SHA-256 is Sum
	Reply               // the printer sends Data
	Silence             // the printer sends nothing until the read's deadline
	Reset               // the host resets the link
)

// Op is one operation of an exchange.
type Op struct {
	Kind Kind
	Data []byte   // Write and Reply
	Len  int      // Blob
	Sum  [32]byte // Blob
}

// String describes the operation as the text format writes it.
func (o Op) String() string {
	switch o.Kind {
	case Write:
		return "> " + strconv.Quote(string(o.Data))
	case Blob:
		return fmt.Sprintf("> blob %d sha256:%s", o.Len, hex.EncodeToString(o.Sum[:]))
	case Reply:
		return "< " + strconv.Quote(string(o.Data))
	case Silence:
		return "< silence"
	case Reset:
		return "= reset"
	}
	return fmt.Sprintf("op(%d)", int(o.Kind))
}

// BlobOf returns the Blob operation for data.
func BlobOf(data []byte) Op {
	return Op{Kind: Blob, Len: len(data), Sum: sha256.Sum256(data)}
}

// Parse reads an exchange in the text format. Errors name the line.
func Parse(r io.Reader) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		op, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("playback: line %d: %w", n, err)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("playback: %w", err)
	}
	return ops, nil
}

func parseLine(line string) (Op, error) {
	if line == "= reset" {
		return Op{Kind: Reset}, nil
	}
	if len(line) < 3 || (line[0] != '>' && line[0] != '<') || line[1] != ' ' {
		return Op{}, fmt.Errorf("want '> ', '< ' or '= reset' at the start")
	}
	dir, rest := line[0], strings.TrimSpace(line[2:])
	switch {
	case dir == '<' && rest == "silence":
		return Op{Kind: Silence}, nil
	case dir == '>' && strings.HasPrefix(rest, "blob "):
		f := strings.Fields(rest)
		if len(f) != 3 || !strings.HasPrefix(f[2], "sha256:") {
			return Op{}, fmt.Errorf("blob: want 'blob <length> sha256:<64 hex digits>'")
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n <= 0 {
			return Op{}, fmt.Errorf("blob: length %q is not a positive integer", f[1])
		}
		sum, err := hex.DecodeString(strings.TrimPrefix(f[2], "sha256:"))
		if err != nil || len(sum) != 32 {
			return Op{}, fmt.Errorf("blob: sha256 must be 64 hex digits")
		}
		op := Op{Kind: Blob, Len: n}
		copy(op.Sum[:], sum)
		return op, nil
	}
	s, err := strconv.Unquote(rest)
	if err != nil {
		return Op{}, fmt.Errorf("want a Go string literal after %c: %w", dir, err)
	}
	if s == "" {
		return Op{}, fmt.Errorf("empty string after %c", dir)
	}
	kind := Write
	if dir == '<' {
		kind = Reply
	}
	return Op{Kind: kind, Data: []byte(s)}, nil
}

// Format writes ops in the text format.
func Format(w io.Writer, ops []Op) error {
	var b bytes.Buffer
	for _, o := range ops {
		b.WriteString(o.String())
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}
