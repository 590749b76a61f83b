// Package queue is the heart of printerd: it takes approved card jobs from
// NATS JetStream and turns each into exactly one card on a printer.
//
// # JetStream layout
//
// [Setup] creates, idempotently, the streams and buckets of DESIGN.md:
//
//	CARD_JOBS       stream  cards.jobs.<site>.<pool>    WorkQueue, file storage, Duplicates >= 1h, MaxAge (7 days)
//	card_ledger     KV      <job_id>                    issuance state (see [Entry])
//	card_issues     KV      <card number>               highest issue reserved for printing (see [IssueMark])
//	CARD_HELD       stream  cards.held.<site>.<job_id>  held job bodies, MaxAge = held retention (72h)
//	CARD_EVENTS     stream  cards.events.<job_id>       [Event]s, no personal data
//	CARD_AUDIT      stream  cards.audit.<site>.<action> hash-chained [AuditRecord]s, deny delete and purge
//	printer_status  KV      <site>.<printer>            [PrinterStatus], TTL 3x the status interval
//	daemon_keys     KV      <site>.<daemon>.<epoch>     signed epoch public keys (queue/epoch)
//
// # Exactly one card per job
//
// [Start] runs one worker per printer. Workers of a pool share one durable
// pull consumer ("printerd-<site>-<pool>") on cards.jobs.<site>.<pool>. A
// worker fetches one message, and only when its printer reports Ready and
// it is not paused. For each message, in this order:
//
//  1. Approval: the exact body bytes are verified against the
//     Approval-Key / Approval-Signature headers. Failure: rejected.
//  2. The contract: job.ParseEnvelope (strict v2: the clear fields and the
//     sealed part's format; nothing is opened yet). A v1 body is refused
//     (rule "v: must be 2 ...") unless Config.AcceptV1, which parses it
//     with job.Parse and logs a warning per job. Failure: rejected.
//  3. Nats-Msg-Id must be job.MsgID (the job_id bound to the approval
//     signature: "<job_id>.<16 hex digits>"), or that and "/release-<n>" for
//     a job a clerk released (n must equal the ledger's release counter).
//     An unsigned message cannot carry a future job's id, so JetStream's
//     duplicate check can never drop a real job for it. Then the signed
//     site and pool must be those of the subject
//     (cards.jobs.<site>.<pool>); a job approved for another site or pool
//     is rejected without touching the ledger. Then the sealed part must be
//     wrapped for an epoch key this daemon holds (checked without opening
//     it); if not, the job is put back (NakWithDelay) for another daemon of
//     the site RetryLimit times, then rejected with reason "key-gone: ...",
//     which tells enrollment to seal it again and submit it as a new job.
//  4. Ledger: Create <job_id> = claimed. If the entry exists: claimed goes
//     on; printing means the daemon died mid-card (or lost NATS), so the
//     outcome is taken from the journal or reconciled with the printer,
//     never printed again automatically; a held job's body is copied to
//     CARD_HELD if recovery held it without its message; printed, held,
//     rejected and cancelled are acknowledged and skipped.
//  5. Issue rule: card_issues[<card number>] holds the highest issue
//     reserved for printing and the job that reserved it. A job whose issue
//     is lower, or equal but reserved by another job, is REJECTED (rule
//     "card.issue: must be higher than the highest issue already printed
//     for this card number"): the enrollment system must approve a new
//     issue. A job re-reserves its own issue (retry, release) freely. The
//     reservation is made by compare-and-swap before the card is fed and is
//     never rolled back, so two printers can never print the same issue
//     and an issue whose job was cancelled is burnt.
//  6. The sealed part is opened with the epoch keys (job.Envelope.OpenAt)
//     and the person checked against the contract's rules; a part moved
//     from another job or altered is rejected ("binding: ..."). Maker.Make
//     then builds the card (its failure is a rejection, not a print), and
//     the person's fields are wiped from the job (job.Job.Wipe): they lived
//     only in this worker's memory.
//  7. The printer's pre-feed snapshot (drivers.Snapshot: serial, printed
//     and rejected counters, card position) is journaled as the printer's
//     intent in the local outcome journal (queue/journal, synced), then the
//     ledger goes claimed -> printing with it by compare-and-swap; only the
//     winner prints. In-progress acks keep the message alive while it prints.
//     Before the swap the daemon's audit chain must be intact
//     (Daemon.AuditHealthy); if not, the job is put back, still claimed.
//  8. Print, then the outcome is journaled (synced) and applied. Success:
//     card_issues marked delivered, printing -> printed, audit "printed",
//     event "printed", then (in the background) the message erased and
//     acked. Failure before feed (drivers.Fed false): back to claimed,
//     NakWithDelay, retried when the printer is Ready again. A failure
//     that fed or may have fed a card: the printer is asked (see below).
//     Spoiled (a card inside rejected to the reject tray, or one more
//     rejected): body and approval headers copied to CARD_HELD (first, so
//     a crash never loses it), ledger held with Spoiled set, audit
//     "spoiled", event "held", Term. Printed after all (the printed
//     counter one up, no card inside): recorded printed. Nothing moved:
//     retried. The printer cannot tell: held the same way with audit
//     "held" and a reason "unknown outcome: <code> (<feed>); <what the
//     printer showed>". The outcome is recorded even while the daemon
//     closes. A card the driver refuses before feed (bad-command), or a
//     job that failed before feed Config.RetryLimit times on a printer
//     that said it was ready, is held too (audit "held", reason "not
//     printed: ..."): no card was fed.
//
// # Unknown outcomes and the outcome journal
//
// Every outcome (printed, spoiled, held, retry) is journaled, synced,
// before the message is acked, and applied to card_issues (delivered),
// the ledger, audit and events, each once (the journal records which
// sink took it); what fails is retried by the daemon's replayer with
// backoff across NATS outages and restarts. A failure that may have fed
// a card, a redelivered job at printing, a printer found with a card
// inside at start or after a reconnect, and a printing entry older than
// the ack wait (the sweep) are reconciled by asking the printer
// (decide in reconcile.go): a card inside is rejected to the reject tray
// and the job held as spoiled (released only with spoiled-destroyed);
// the printed counter one up with no card inside is printed; nothing
// moved and no card inside is a retry; anything the printer cannot tell
// (no answer, another serial, counters gone back, Magicard's unknown
// card position) is held with a reason saying what was seen. A journaled
// outcome is used before the printer is asked again.
//
// The message is kept alive with in-progress acks from fetch to ack, so a
// slow layout or print is never redelivered to another worker. A stale
// delivery that loses the claimed -> printing swap leaves the message to
// the winner.
//
// Rejections: approval failures and Nats-Msg-Id mismatches never touch the
// ledger (the job id of an unauthenticated or replayed message is not
// trusted, and writing it would let anyone block a real job); rejections of
// an authentic job (contract, issue rule, Make) set the ledger to rejected.
// Every rejection publishes a "rejected" event whose reason names the field
// and the rule, writes an audit record, and terminates the message.
//
// # Scale-out
//
// Many daemons (one site or many) can share one JetStream: the work-queue
// stream gives each job to one worker, the ledger and card_issues are
// changed only by compare-and-swap, and each daemon appends to its own
// audit chain, cards.audit.<site>.<daemon key id>, with an expected last
// sequence for that subject: anything else written there, or the stream
// deleted or replaced, breaks the chain, and the daemon stops taking jobs.
// Printer names must be unique within a site.
//
// # Events, audit, status, metrics
//
// Events (cards.events.<job_id>) are JSON [Event]s with states received,
// rejected, printing, printed, held, released, cancelled. A rejected
// message whose job id cannot be trusted or is not a UUID publishes on
// cards.events.invalid. Audit records ([AuditRecord]) form one hash chain
// per daemon, each record signed with the daemon's Ed25519 key; the daemon
// keeps the chain's head in a file outside the stream (Config.AuditHeadFile)
// and checks the stream against it at start and every StatusInterval.
// [ExportAudit] and [VerifyChains] check a site's chains offline. Workers write [PrinterStatus] to
// printer_status every StatusInterval (and on every change of readiness);
// the bucket's TTL (3x the interval) removes a dead daemon's printers.
// [Metrics] holds the Prometheus counters, histograms and gauges in their
// own registry; the daemon serves it.
//
// # Clerks
//
// [Clerk] moves held jobs. Release: ledger held -> claimed with the release
// counter incremented, the held body republished to its jobs subject with
// Nats-Msg-Id "<job.MsgID>/release-<n>" and its original approval headers
// (the worker verifies it again), then the CARD_HELD copy is erased. A
// republish the stream acknowledges as a duplicate did not queue the job:
// the release fails, the job stays held (counter at n, so the next release
// uses a new id). Cancel: held -> cancelled and the CARD_HELD copy erased,
// so the personal data is gone. Both take a reason code (ReleaseReasons,
// CancelReasons; no free text is stored) and the operator the server
// attested (queue/service), and write an audit record and an event. Held
// lists held jobs from the ledger, reading no body. The held body stays
// sealed: a release republishes it as it is, and is refused
// ([ErrUnprintable]) when the daemon no longer holds any of its epoch keys
// (destroyed after their retention) or it is a v1 job the daemon does not
// accept.
//
// # Epoch keys
//
// Config.Keys is the daemon's epoch key store (queue/epoch) and
// Config.Signer its long-term key. Start runs the key upkeep
// (epoch.Maintain) at start and every Config.KeyUpkeep (an hour): the
// current and next epoch keys are made and announced, signed, in
// daemon_keys; a key is destroyed once its epoch ended more than
// CARD_JOBS' MaxAge + CARD_HELD's retention ago (audit "key-destroyed"),
// which makes every stored or recorded copy of the jobs sealed to it
// unreadable.
//
// # Erasing personal data
//
// Acking a work-queue message or purging a subject only unlinks messages:
// their bytes stay in JetStream's block files until compaction. So every
// job message is overwritten (SecureDeleteMsg) before it is acked or
// terminated, whatever the outcome, and held copies are overwritten the same
// way when a clerk releases or cancels them. A held copy that nobody
// releases or cancels is overwritten by the daemon's sweep shortly before
// CARD_HELD's retention (MaxAge) ends, since the server's expiry would only
// unlink it ([Stores.EraseExpiringHeld]). When joining an
// existing deployment, the daemon's NATS user needs the JetStream API
// subjects for message delete ($JS.API.STREAM.MSG.DELETE.CARD_JOBS and
// .CARD_HELD) besides the usual consumer and publish permissions.
//
// # Services and technicians
//
// The queue knows nothing of NATS services: queue/service defines the
// printerd.diag and printerd.jobs protocol, with its client, and serves it
// on a [Daemon] through [Daemon.Pause], [Daemon.Resume], [Daemon.Clerk] and
// [Daemon.WithPrinter]. WithPrinter runs a technician's verb on a printer
// only while no card prints: a printer's device lock is a one-slot
// semaphore that a card, a status poll and a verb take in turn, and a
// waiter gives up at its context without leaving a goroutine behind.
//
// # Reading the worker
//
// worker.handle (handle.go) is the list above as named steps, each with
// its own error path: verifyApproval, parseJob, checkMsgID, checkSubject,
// checkSealedTo, claim (and resume), checkIssue, openSealed, render,
// reserveIssue, startPrinting, print,
// recordOutcome (printed, retryBeforeFeed or hold). card_ledger and
// card_issues are small types over their buckets (ledger, issueMarks in
// ledger.go) with the operations the protocol needs: create, get,
// compare-and-swap and the moves between states. A worker sees its daemon
// only through a workerEnv.
//
// # Personal data
//
// Name, birth date, gender and photo travel and rest only sealed (contract
// v2), in the job message and in CARD_HELD for at most its retention; they
// are decrypted only in the worker's memory, from openSealed until the
// card is laid out. Ledger entries, events, audit records, printer status, metrics
// and log lines carry job ids, card numbers, issue numbers, printer names
// and serials, and rule descriptions only.
package queue
