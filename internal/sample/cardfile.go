package sample

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cityid/printerd/card"
)

// MunicipalCard is the stored face of sample person 0 on the built-in
// municipal-id template, two-sided YMCKO, as layout renders it: a card
// directory (see WriteCard) relative to the module root. layout's tests
// write it (go test ./layout -update) and check it still scans; drivers'
// tests read it with ReadCard for a realistic card without importing layout.
const MunicipalCard = "testdata/cards/municipal-ymcko"

// cardMeta is card.json in a card directory.
type cardMeta struct {
	Label  string      `json:"label"`
	Ribbon card.Ribbon `json:"ribbon"`
	Back   bool        `json:"back"`
	Mag    [3]string   `json:"mag"`
}

// planes lists a side's planes by file-name suffix.
func planes(s *card.Side) []struct {
	name string
	p    **image.Gray
} {
	return []struct {
		name string
		p    **image.Gray
	}{{"y", &s.Y}, {"m", &s.M}, {"c", &s.C}, {"k", &s.K}, {"o", &s.O}}
}

// WriteCard stores c in dir (made if missing): card.json with the label,
// ribbon, magnetic tracks and whether there is a back, and one 8-bit grey
// PNG per plane that is not nil, named <side>-<panel>.png (front-y.png ...
// back-o.png). Only invented people's cards belong in such files.
func WriteCard(dir string, c card.Card) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sample: write card: %w", err)
	}
	meta, err := json.MarshalIndent(cardMeta{Label: c.Label, Ribbon: c.Ribbon, Back: c.Back != nil, Mag: c.Mag}, "", "  ")
	if err != nil {
		return fmt.Errorf("sample: write card: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "card.json"), append(meta, '\n'), 0o644); err != nil {
		return fmt.Errorf("sample: write card: %w", err)
	}
	sides := map[string]*card.Side{"front": &c.Front, "back": c.Back}
	for side, s := range sides {
		if s == nil {
			continue
		}
		for _, pl := range planes(s) {
			path := filepath.Join(dir, side+"-"+pl.name+".png")
			if *pl.p == nil {
				if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("sample: write card: %w", err)
				}
				continue
			}
			if err := writePNG(path, *pl.p); err != nil {
				return err
			}
		}
	}
	return nil
}

func writePNG(path string, g *image.Gray) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("sample: write card: %w", err)
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	err = enc.Encode(f, g)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sample: write card plane %s: %w", filepath.Base(path), err)
	}
	return nil
}

// ReadCard reads a card WriteCard stored in dir. A plane file that is
// missing leaves that plane nil; a plane that is not card.Width x
// card.Height is an error naming the file.
func ReadCard(dir string) (card.Card, error) {
	b, err := os.ReadFile(filepath.Join(dir, "card.json"))
	if err != nil {
		return card.Card{}, fmt.Errorf("sample: read card: %w", err)
	}
	var meta cardMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return card.Card{}, fmt.Errorf("sample: read card %s: %w", filepath.Join(dir, "card.json"), err)
	}
	c := card.Card{Label: meta.Label, Ribbon: meta.Ribbon, Mag: meta.Mag}
	sides := []struct {
		name string
		s    *card.Side
	}{{"front", &c.Front}}
	if meta.Back {
		c.Back = &card.Side{}
		sides = append(sides, struct {
			name string
			s    *card.Side
		}{"back", c.Back})
	}
	for _, side := range sides {
		for _, pl := range planes(side.s) {
			g, err := readPlane(filepath.Join(dir, side.name+"-"+pl.name+".png"))
			if err != nil {
				return card.Card{}, err
			}
			*pl.p = g
		}
	}
	return c, nil
}

// readPlane reads a plane PNG, or returns nil if the file does not exist.
func readPlane(path string) (*image.Gray, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sample: read card: %w", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("sample: read card plane %s: %w", filepath.Base(path), err)
	}
	if b := img.Bounds(); b.Dx() != card.Width || b.Dy() != card.Height {
		return nil, fmt.Errorf("sample: read card plane %s: %dx%d: want %dx%d", filepath.Base(path), b.Dx(), b.Dy(), card.Width, card.Height)
	}
	g, ok := img.(*image.Gray)
	if !ok || g.Rect.Min != (image.Point{}) {
		g = card.NewPlane()
		draw.Draw(g, g.Rect, img, img.Bounds().Min, draw.Src)
	}
	return g, nil
}
