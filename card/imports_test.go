package card_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayoutAndDriversApart keeps the rule this package exists for: layout
// and drivers are siblings that share only the card model, so neither
// imports the other, in production code or in tests, and drivers' tests
// import no queue or cmd package (their sample cards come from
// internal/sample). It asks the go tool, which the tests run under.
func TestLayoutAndDriversApart(t *testing.T) {
	const mod = "github.com/cityid/printerd/"
	tests := []struct {
		pkgs      string
		forbidden []string
	}{
		{"../layout/...", []string{mod + "drivers", mod + "queue", mod + "cmd/"}},
		{"../drivers/...", []string{mod + "layout", mod + "queue", mod + "cmd/"}},
	}
	for _, tt := range tests {
		out, err := exec.Command("go", "list", "-deps", "-test", tt.pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps -test %s: %v\n%s", tt.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range tt.forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s (tests included)", tt.pkgs, dep)
				}
			}
		}
	}
}
