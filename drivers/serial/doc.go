// Package serial is the serial-port transport for printers, on
// go.bug.st/serial: URIs serial:///dev/ttyUSB0?baud=115200 (8 data bits, no
// parity, one stop bit; baud defaults to 115200).
//
// Reads honour their context through a loop of short read time-outs, writes
// go out in 4 KB chunks with the context checked between them, and Reset
// closes and reopens the port. A chunk's write itself cannot be cancelled:
// it blocks while the device does not drain (hardware flow control held, or
// a pseudo-terminal nobody reads); a UART without flow control always
// drains at its baud rate. Errors say how to fix the problem (permissions, a
// busy port, a missing device). List enumerates the machine's serial ports
// for `printerd diag list`.
package serial
