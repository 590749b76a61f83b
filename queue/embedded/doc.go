// Package embedded runs the nats-server that printerd embeds when no NATS
// URL is configured: JetStream with a file store in the state directory,
// encryption at rest with a key generated on first run (mode 0600, refused
// if others can read it), listening on 127.0.0.1 so enrollment systems and
// the nats command-line client can connect, and an in-process connection
// for the daemon itself.
//
// The server's log goes to log/slog at notice level and above; trace and
// debug logging, which could show message payloads, are never enabled.
package embedded
