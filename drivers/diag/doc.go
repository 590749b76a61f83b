// Package diag runs technician diagnostics on a printer: status, info,
// counters, clean, test-card, reset and raw. The same Run serves
// `printerd diag --device` (directly on a device) and the daemon's remote
// diagnostics service, whose NATS subject and request and reply formats
// (Subject, Request, Reply) live here too; the package imports no NATS
// client: the daemon's queue and the CLI carry those bytes.
//
// pause and resume act on the daemon's queue, not on a printer: Run answers
// them with ErrDaemonOnly, and the daemon's service handles them itself.
package diag
