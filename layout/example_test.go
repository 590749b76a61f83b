package layout_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/sample"
	"github.com/cityid/printerd/layout"
)

// Render a card on the built-in template and hand its panels to a driver.
func Example() {
	key, err := keyfile.New(keyfile.ES256) // in production: keyfile.LoadPrivate
	if err != nil {
		log.Fatal(err)
	}
	r, err := layout.New(layout.Options{Issuer: key, IssuerCode: "CITY"})
	if err != nil {
		log.Fatal(err)
	}
	card, err := r.Render(context.Background(), layout.DefaultTemplate, layout.Fields{
		Number: "SAMPLE-000042", Issue: 1, Name: "Alex Sampleton", DOB: "1990-05-17", Gender: "M",
		Issued: "2026-01-15", Expires: "2031-01-15", Photo: sample.Photo(0),
	})
	if err != nil {
		log.Fatal(err) // names the field and the rule, never the value
	}
	card.Panels.Label = "job id"
	fmt.Println(r.Templates(), card.Panels.Ribbon, card.Panels.Front.K.Bounds().Size())
	// Output: [municipal-id municipal-id-chip] ymcko (1016,648)
}
