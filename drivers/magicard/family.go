package magicard

import (
	"fmt"
	"strings"
)

// LayoutForModel picks the line layout from a model name as the printer
// reports it (REQ,INF field 1, or MDL of the IEEE 1284 device id; spaces
// and case do not matter). The Optima models (Rio Pro 360, Helix) speak a
// binary protocol this package does not; they and unknown models are an
// error asking for layout=kee|kge.
func LayoutForModel(model string) (Layout, error) {
	m := strings.ToLower(strings.ReplaceAll(model, " ", ""))
	switch {
	case m == "":
		return "", fmt.Errorf("magicard: the printer reported no model name: set layout=kee (Rio 2e, Tango) or layout=kge (Enduro, Rio Pro, Pronto)")
	case strings.Contains(m, "360"), strings.Contains(m, "helix"), strings.Contains(m, "riopro2"):
		return "", fmt.Errorf("magicard: model %q speaks the binary Optima protocol, which printerd does not support", model)
	case strings.Contains(m, "enduro"), strings.Contains(m, "riopro"), strings.Contains(m, "pronto"),
		strings.Contains(m, "mc200"), strings.Contains(m, "alto"), strings.Contains(m, "opera"), strings.Contains(m, "tempo"):
		return KGE, nil
	case strings.Contains(m, "tango"), strings.Contains(m, "rio"), strings.Contains(m, "xxl"), strings.Contains(m, "avalon"):
		return KEE, nil
	}
	return "", fmt.Errorf("magicard: model %q has no known line layout: set layout=kee (Rio 2e, Tango) or layout=kge (Enduro, Rio Pro, Pronto)", model)
}

// USB ids (S): vendor 0x0C1F; 0x1800 Tango 2E (and Rio 2E), 0x4800
// Enduro, 0x880A Enduro+.
const (
	VendorID       = 0x0C1F
	ProductTango2E = 0x1800
	ProductEnduro  = 0x4800
	ProductEnduroP = 0x880A
)

// LayoutForProduct returns the layout of a known USB product id, or "".
func LayoutForProduct(pid uint16) Layout {
	switch pid {
	case ProductTango2E:
		return KEE
	case ProductEnduro, ProductEnduroP:
		return KGE
	}
	return ""
}
