// Package console is printerd's office console: an HTTPS site where clerks
// and technicians see the printers and the queue and act on them, built on
// the NATS service protocol (queue/service's Client) and nothing else of a
// daemon, so one console serves a site however many daemons print there.
//
// # Pages
//
//	/signin                      sign-in (name, password)
//	/printers                    state, ribbon, counters, card in progress; pause, resume, reset, clean, test card
//	/queue                       queued, printing and held jobs per pool; release and cancel with reason codes
//	/history?card=NUMBER         a card number's audit records and the audit chain's verification
//	/reprints                    reprint requests (cards.reprints.<site>), pending until the new issue prints
//	/live                        server-sent events: "change" with a topic (printers, queue, reprints)
//
// Pages are server-rendered (html/template, embedded with the CSS and one
// small script); the script swaps a page's live part when its topic
// changes. Every write of the live stream has its own deadline
// (http.ResponseController), so a browser that stops reading is dropped.
//
// # Security
//
// Users and argon2id password hashes live in a 0600 file (AddUser,
// LoadUsers). Sessions are kept on the server under random 256-bit ids sent
// in a __Host- cookie (Secure, HttpOnly, SameSite=Strict), expire after
// DefaultIdle idle or DefaultLifetime, and get a new id at sign-in. Every
// POST needs the session's CSRF token and, when the browser sends one, a
// same-origin Origin. Sign-in attempts are slowed per name and per client
// address (Limiter). Each action is checked against the person's role (May)
// before anything is sent, and is sent with the person's name
// (service.Client.OnBehalfOf) and logged as theirs.
//
// The console has no personal data: it never receives a name, birth date,
// gender or photo, so it can neither show nor log one.
package console
