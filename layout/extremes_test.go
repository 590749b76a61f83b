package layout

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/image/font/sfnt"

	"github.com/cityid/printerd/layout/barcode"
)

// TestBuiltinFitsContractExtremes: the built-in template prints the
// extremes of every rule of the job contract (../shared/DESIGN.md, "The
// template must fit every value the job contract allows"): the longest card
// numbers of the widest characters, 80-character names of the widest
// letters with and without spaces, 24-character genders, the largest
// issue counter, and the code on the back scans and verifies every time.
// Characters the card fonts cannot draw are refused by name, never drawn
// wrong (see TestRenderBadInput).
func TestBuiltinFitsContractExtremes(t *testing.T) {
	r := newRenderer(t, Options{})
	cases := map[string]func(f *Fields){
		"number 24 W":          func(f *Fields) { f.Number = strings.Repeat("W", 24) },
		"number 24 M and -":    func(f *Fields) { f.Number = "MMMM-MMMM-MMMM-MMMM-MMMM" },
		"number 24 digits":     func(f *Fields) { f.Number = strings.Repeat("8", 24) },
		"number 4":             func(f *Fields) { f.Number = "A-01" },
		"name 80 W":            func(f *Fields) { f.Name = strings.Repeat("W", 80) },
		"name 80 W with space": func(f *Fields) { f.Name = strings.Repeat("WWWWWWW ", 10)[:80] },
		"name 80 Ш":            func(f *Fields) { f.Name = strings.Repeat("Ш", 80) },
		"name 80 m":            func(f *Fields) { f.Name = strings.Repeat("m", 80) },
		"name 80 Ẅ":            func(f *Fields) { f.Name = strings.Repeat("Ẅ", 80) },
		"name 80 ☺":            func(f *Fields) { f.Name = strings.Repeat("☺", 80) },
		"name 1":               func(f *Fields) { f.Name = "Ø" },
		"gender 24 W":          func(f *Fields) { f.Gender = strings.Repeat("W", 24) },
		"gender 24 Ш":          func(f *Fields) { f.Gender = strings.Repeat("Ш", 24) },
		"name 80 emoji":        func(f *Fields) { f.Name = strings.Repeat("😀", 80) },
		"name 80 mixed emoji":  func(f *Fields) { f.Name = emojiRun(80) },
		"gender 24 emoji":      func(f *Fields) { f.Gender = emojiRun(24) },
		"issue max int64":      func(f *Fields) { f.Issue = 1<<63 - 1 },
		"all extremes": func(f *Fields) {
			f.Number, f.Name, f.Gender, f.Issue = strings.Repeat("W", 24), emojiRun(80), emojiRun(24), 1<<63-1
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			f := sampleFields(t, 0)
			mod(&f)
			c, err := r.Render(context.Background(), "", f)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			text, err := barcode.Scan(c.Back)
			if err != nil || text != c.Barcode {
				t.Fatalf("the back's code does not scan back: %v", err)
			}
		})
	}
}

// emojiRun is n different emoji (from U+1F300 on) that both card fonts
// draw, so that the signed code cannot compress them away.
func emojiRun(n int) string {
	tf, err := loadTypefaces()
	if err != nil {
		panic(err)
	}
	var buf sfnt.Buffer
	var have []rune
	for r := rune(0x1F300); r < 0x1FAFF && len(have) < 64; r++ {
		_, ok1 := tf.regular.glyph(&buf, r)
		_, ok2 := tf.bold.glyph(&buf, r)
		if ok1 && ok2 {
			have = append(have, r)
		}
	}
	if len(have) == 0 {
		panic("the card fonts draw no emoji")
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteRune(have[i%len(have)])
	}
	return b.String()
}
