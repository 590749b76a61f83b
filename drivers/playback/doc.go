// Package playback replays and records conversations between a driver and a
// printer, in the manner of periph.io's conntest.Playback.
//
// A Playback is a drivers.Link that plays the printer's side of a recorded
// exchange: it checks every byte the driver writes against the recording,
// fails on the first unexpected byte, answers reads with the recorded
// replies, and its Close fails if an expected exchange never happened. A
// Record wraps a real link and writes what passes through it in the same
// format, so that a session with a real printer becomes a test fixture.
//
// The text format has one operation a line; blank lines and lines starting
// with # are comments:
//
//	> "\x1bPem;2\r"             the host writes these bytes (a Go string literal)
//	> blob 82296 sha256:<hex>   the host writes 82296 bytes with this SHA-256
//	< "OK\r"                    the printer sends these bytes
//	< silence                   the printer sends nothing: the read waits for its deadline
//	= reset                     the host resets the link
//
// Consecutive writes are compared as one byte stream, so a driver may split
// or join its writes freely; a read or reset must come exactly where the
// recording has one.
package playback
