// Package layout turns a job's fields and photo into a card: it places them
// on a template (front and back of an ID-1 card, described in JSON), signs
// the barcode (layout/barcode), renders both sides at the printers' native
// 300 dpi (1016 x 648, landscape), splits them into ribbon panels
// (package card) and checks the barcode back from the rendered K panel
// before handing the card on. It also writes PNG previews and a PDF proof.
//
// It knows nothing of NATS, jobs or printers: callers pass Fields, and
// drivers rotate and encode the panels.
//
// Text is drawn with the embedded DejaVu fonts (layout/fonts) after NFC
// normalisation. The fonts carry no shaping we can apply, so combining
// marks that do not compose are placed over or under their base glyph's
// ink by this package. A character the fonts cannot draw is an error that
// names the field, never the value.
package layout
