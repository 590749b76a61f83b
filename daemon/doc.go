// Package daemon is one printerd daemon in the nats-server shape: Options
// (a Config of settings plus what the caller wires in) -> Validate -> New
// -> Start -> Reload -> Drain -> Shutdown. It brings up NATS (an embedded
// nats-server with JetStream, or a joined deployment), opens the printers
// (retrying those offline at start), runs the queue's workers
// (queue.Daemon), serves the NATS services (queue/service) and /metrics and
// /healthz, and applies the settings that can change live.
//
// It installs no signal handler and reads no flag or environment:
// cmd/printerd does that, and tests run the whole daemon in-process (the
// NoSigs way) by calling Drain and Shutdown themselves.
//
// Every goroutine the daemon starts (service handlers, the HTTP server)
// goes through one helper that counts it and refuses after Shutdown began;
// Shutdown waits for them all before it closes the printers, so a
// technician's verb in flight never has its printer closed under it.
package daemon
