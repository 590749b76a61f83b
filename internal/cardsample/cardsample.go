// Package cardsample holds a realistic card for driver tests: sample
// person 0 (an invented person with a generated photo) rendered by layout/
// on the built-in municipal-id template for a YMCKO ribbon, two-sided,
// stored as the panels layout produced (PNG planes in cards/).
//
// Driver packages may not import layout (nor layout drivers), tests
// included; this package gives them the card layout makes without the
// import. Regenerate the planes with
//
//	go test ./internal/cardsample -run TestGenerate -update
package cardsample

import (
	"embed"
	"fmt"
	"image"
	"image/draw"
	"image/png"

	"github.com/cityid/printerd/layout/panel"
)

//go:embed cards/*.png
var files embed.FS

// Planes are the file names of a side's planes, by panel letter.
var Planes = []string{"y", "m", "c", "k", "o"}

// Municipal returns the built-in card as layout rendered it: YMCKO, front
// and back, no magnetic tracks, labelled label. Every call returns fresh
// planes the caller may change.
func Municipal(label string) (panel.Card, error) {
	c := panel.Card{Label: label, Ribbon: panel.YMCKO}
	front, err := side("front")
	if err != nil {
		return c, err
	}
	back, err := side("back")
	if err != nil {
		return c, err
	}
	c.Front, c.Back = front, &back
	return c, nil
}

func side(name string) (panel.Side, error) {
	var s panel.Side
	dst := []**image.Gray{&s.Y, &s.M, &s.C, &s.K, &s.O}
	for i, p := range Planes {
		f, err := files.Open("cards/" + name + "-" + p + ".png")
		if err != nil {
			continue // a plane layout left nil
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			return s, fmt.Errorf("cardsample: %s-%s.png: %w", name, p, err)
		}
		g := image.NewGray(image.Rect(0, 0, panel.Width, panel.Height))
		if img.Bounds() != g.Rect {
			return s, fmt.Errorf("cardsample: %s-%s.png is %v, want %dx%d", name, p, img.Bounds().Size(), panel.Width, panel.Height)
		}
		draw.Draw(g, g.Rect, img, image.Point{}, draw.Src)
		*dst[i] = g
	}
	return s, nil
}
