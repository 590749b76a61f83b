// Package embedded runs the nats-server that printerd embeds when no NATS
// URL is configured: JetStream with a file store in the state directory,
// encryption at rest with a key generated on first run (mode 0600, refused
// if others can read it), every write synced to disk when asked
// (Options.SyncAlways), listening on 127.0.0.1 so enrollment systems and
// the nats command-line client can connect, and an in-process connection
// for the daemon itself.
//
// Without Options.Users anyone who reaches the listener may do anything.
// With them, only those nkey users connect, each with the permissions of
// its role (enrollment, clerk, technician, admin; see RolePermissions),
// and the daemon's own in-process connection uses an nkey made at start.
//
// The server's log goes to log/slog at notice level and above; trace and
// debug logging, which could show message payloads, are never enabled.
package embedded
