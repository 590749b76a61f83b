// Package card is the physical card that layout/ makes and drivers/ print:
// an ID-1 card (85.60 x 53.98 mm) at the printers' native 300 dpi, its two
// sides, the density plane of each ribbon panel on a side, the magnetic
// tracks, and the ribbons printerd supports with the one rule of which
// panels each side of a card gets on each ribbon (Ribbon.SidePanels).
//
// It is a leaf package of plain data: layout/ (which knows nothing of
// printers) fills a Card, drivers/ (which know nothing of jobs or templates)
// print one, and neither imports the other. It holds no personal data of
// its own; a Card's planes do, and belong to whoever holds the Card.
package card
