package card

import (
	"strings"
	"testing"
)

func TestRibbon(t *testing.T) {
	tests := []struct {
		r               Ribbon
		colour, overlay bool
		front, back     Panels
	}{
		{YMCKO, true, true, Panels{Colour: true, Overlay: true}, Panels{Colour: true, Overlay: true}},
		// YMCKOK: Y, M, C, K, O for the front, the second K alone for the back.
		{YMCKOK, true, true, Panels{Colour: true, Overlay: true}, Panels{}},
		{KO, false, true, Panels{Overlay: true}, Panels{Overlay: true}},
		{K, false, false, Panels{}, Panels{}},
	}
	for _, tt := range tests {
		t.Run(string(tt.r), func(t *testing.T) {
			if err := tt.r.Valid(); err != nil {
				t.Fatal(err)
			}
			if tt.r.Colour() != tt.colour || tt.r.Overlay() != tt.overlay {
				t.Errorf("Colour, Overlay = %v, %v: want %v, %v", tt.r.Colour(), tt.r.Overlay(), tt.colour, tt.overlay)
			}
			if got := tt.r.SidePanels(false); got != tt.front {
				t.Errorf("front panels %+v: want %+v", got, tt.front)
			}
			if got := tt.r.SidePanels(true); got != tt.back {
				t.Errorf("back panels %+v: want %+v", got, tt.back)
			}
		})
	}
}

func TestRibbonValid(t *testing.T) {
	for _, r := range []Ribbon{"", "YMCKO", "ymc", "kk"} {
		err := r.Valid()
		if err == nil || !strings.Contains(err.Error(), "card: ribbon") || !strings.Contains(err.Error(), "want ymcko, ymckok, ko or k") {
			t.Errorf("Valid(%q) = %v: want an error naming the ribbon and the rule", r, err)
		}
	}
}

func TestNewPlane(t *testing.T) {
	p := NewPlane()
	if p.Bounds().Dx() != Width || p.Bounds().Dy() != Height {
		t.Fatalf("NewPlane is %v: want %dx%d", p.Bounds(), Width, Height)
	}
	for _, v := range p.Pix {
		if v != 0 {
			t.Fatal("NewPlane is not blank")
		}
	}
}
