// Package service is printerd's NATS service protocol, defined once: the
// subjects, the request and reply bodies, the error convention, a typed
// Client (used by `printerd jobs`, `printerd diag --nats` and the console
// to come) and Serve, which registers the daemon's handlers as nats.go
// micro services.
//
// # Subjects
//
//	printerd.diag.<site>.<printer>.<verb>   technician diagnostics on one printer
//	printerd.jobs.<site>.<verb>             clerk job control
//
// # Bodies
//
// Every request is a JSON object with the verb's fields (unknown fields are
// refused; an empty body is {}). Every reply is a [Reply]:
// {"result": <value>, "error": "", "code": ""}; on failure result is null,
// error says what went wrong (never personal data) and code classifies it
// ([CodeBadRequest], [CodeNotFound], ...). The Client turns a failure into
// an [*Error], which matches queue.ErrNotFound and queue.ErrConflict with
// errors.Is; no daemon answering is [ErrNoDaemon].
//
// printerd.diag.<site>.<printer>.<verb>, request [DiagRequest] {"arg": "..."}:
//
//	status, info, counters, clean, reset   -> drivers.Status, drivers.Info, drivers.Counters, diag.Done
//	test-card  (arg: ribbon, optional)     -> diag.TestCardResult
//	raw        (arg: command, e.g. Rco;p)  -> diag.RawResult
//	pause, resume                          -> PauseResult
//
// pause and resume act on the daemon's worker (a paused printer takes no
// new job; the card in the printer finishes). Every other verb runs on the
// printer through drivers/diag, serialised with printing: it waits for the
// card in the printer and never interrupts one.
//
// printerd.jobs.<site>.<verb>, request [JobsRequest]:
//
//	status   {"job_id"}                          -> queue.Entry
//	held     {}                                  -> []queue.HeldJob
//	release  {"job_id", "operator"}              -> queue.Entry
//	cancel   {"job_id", "operator", "reason"}    -> queue.Entry
//	history  {"card_number"}                     -> []queue.AuditRecord
//
// Dependencies: service imports queue (for the reply types) and drivers;
// queue and drivers never import service.
package service
