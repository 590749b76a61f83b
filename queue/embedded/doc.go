// Package embedded runs the nats-server that printerd embeds when no NATS
// URL is configured: JetStream with a file store in the state directory,
// encryption at rest with a key generated on first run (mode 0600, refused
// if others can read it; never made anew over an existing store, and
// checked against the store's recorded fingerprint before the server
// starts), every write synced to disk when asked (Options.SyncAlways), and
// an in-process connection for the daemon itself.
//
// Authentication is always on. The accounts and permissions are the ones
// AccountsConfig writes (also what `printerd users config` gives operators
// of a joined deployment): one account per role that acts as an identity
// (CLERK, TECHNICIAN, CONSOLE) importing the daemons' services from the
// PRINTERD account with share, so that each request carries the
// requester's identity in Nats-Request-Info; enrollment, auditor, admin and
// daemon users in PRINTERD, each limited to its subjects (RolePermissions);
// every user's replies on its own inbox prefix (InboxPrefix). Without users
// the server does not listen at all; Options.InsecureNoAuth (a lab) lets
// anonymous clients do anything.
//
// The server's log goes to log/slog at notice level and above; trace and
// debug logging, which could show message payloads, are never enabled.
package embedded
