// Package evolis drives Evolis card printers (Pebble, Dualys, Quantum,
// Primacy, Zenius and successors) through their ASCII command language with
// binary bitmap payloads.
//
// A Printer implements drivers.Printer over any drivers.Link (serial, USB,
// TCP or an in-process pipe to drivers/sim). It frames commands as
// ESC name;params CR, reads every reply with a time-out, resets the link
// after a printer stops answering (a bounded number of times) and reports
// failures as *drivers.Error values that say whether a card had been fed.
//
// The encoders (EncodeCard, EncodeMono, EncodeColour, CompressMono,
// CompressColour) are exported so that `printerd encode` can write a command
// stream without a printer, and so that the simulator's tests can round-trip
// panels; DecodeMono and DecodeColour invert them.
//
// Sources: the Evolis Programming Guide, part A5013 (revisions D2 and E);
// the Perl driver and simulator Printer-EVOLIS (270-degree rotation, 64 NUL
// bytes of padding, K/O line compression); the notes in
// ../shared/evolis-protocol.md, which also mark what is inferred.
package evolis
