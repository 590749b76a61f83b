// Package fonts embeds the typefaces printed on cards: DejaVu Sans and
// DejaVu Sans Bold (Bitstream Vera licence with public-domain DejaVu
// changes; see LICENSE in this directory). DejaVu covers Latin, Latin
// Extended (Polish, Turkish, Icelandic), Vietnamese and the combining
// diacritical marks, which the Go fonts do not.
//
// The same bytes feed the raster renderer (golang.org/x/image/font/sfnt)
// and the PDF proof (fpdf AddUTF8FontFromBytes), so both draw the same
// glyphs.
package fonts
