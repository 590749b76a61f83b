package drivers

import "context"

// RawCommander is implemented by printers that can send one command of
// their own language and return the printer's reply verbatim, for a
// technician's `printerd diag raw`. The reply is returned even when it is an
// error string; err is set only when no reply could be read.
type RawCommander interface {
	Raw(ctx context.Context, cmd string) (reply string, err error)
}
