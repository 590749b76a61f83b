// Package tcp is the network transport for printers with Ethernet (and for
// `printerd sim --listen`): URIs tcp://host:port, port 9100 by default.
// Deadlines come from the caller's context; Reset redials.
package tcp
