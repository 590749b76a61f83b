// Package diag runs technician diagnostics on a printer: status, info,
// counters, clean, test-card, reset and raw. The same Run serves
// `printerd diag --device` (directly on a device) and the daemon's remote
// diagnostics service; the service's subjects, requests and replies are
// queue/service's, and this package knows nothing of NATS.
//
// pause and resume act on the daemon's queue, not on a printer: Run answers
// them with ErrDaemonOnly, and the daemon's service handles them itself.
package diag
