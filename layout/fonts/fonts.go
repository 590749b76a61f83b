package fonts

import _ "embed"

// Regular is DejaVuSans.ttf.
//
//go:embed DejaVuSans.ttf
var Regular []byte

// Bold is DejaVuSans-Bold.ttf.
//
//go:embed DejaVuSans-Bold.ttf
var Bold []byte
