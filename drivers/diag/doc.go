// Package diag runs technician diagnostics on a printer: status, info,
// counters, clean, test-card, reset and raw. The same Run serves
// `printerd diag --device` (directly on a device) and the daemon's remote
// diagnostics service, whose request and reply formats (Request, Reply,
// Subject) live here too; the package knows nothing of NATS.
//
// pause and resume act on the daemon's queue, not on a printer: Run answers
// them with ErrDaemonOnly, and the daemon's service handles them itself.
package diag
