package sim_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/sample"
)

// TestMagicardSimURI opens sim://<name>?lang=magicard&layout=kge through a
// Registry, prints the stored sample card on it with the Magicard driver,
// finds the device again by name, resets the link, and refuses the name
// as an Evolis printer.
func TestMagicardSimURI(t *testing.T) {
	var r sim.Registry
	ctx := context.Background()
	u, _ := url.Parse("sim://mc?lang=magicard&layout=kge&head=45")
	link, err := r.Transport(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	dev := r.LookupMagicard("mc")
	if dev == nil || link.(*sim.Link).Magicard() != dev || dev.MagicardOptions().Layout != sim.MagicardKGE || dev.MagicardOptions().HeadPosition != 45 {
		t.Fatalf("LookupMagicard = %v", dev)
	}
	c, err := sample.ReadCard(filepath.Join("..", "..", sample.MunicipalCard))
	if err != nil {
		t.Fatal(err)
	}
	c.Label = "sim-uri-1"
	p := magicard.New(link, magicard.Options{PollInterval: 5 * time.Millisecond, ReplyTimeout: time.Second})
	if err := p.Print(ctx, c); err != nil {
		t.Fatal(err)
	}
	cards := dev.Cards()
	if len(cards) != 1 || cards[0].Label != "sim-uri-1" {
		t.Fatalf("printed %+v, want one card labelled by the link", len(cards))
	}
	if err := link.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Status(ctx); err != nil {
		t.Fatalf("Status after a link reset: %v", err)
	}
	u2, _ := url.Parse("sim://mc")
	if _, err := r.Transport(ctx, u2); drivers.CodeOf(err) != drivers.BadConfig {
		t.Fatalf("opening a Magicard as Evolis: %v, want bad-config", err)
	}
	u3, _ := url.Parse("sim://mc2?lang=magicard&layout=optima")
	if _, err := r.Transport(ctx, u3); !errors.Is(err, drivers.BadConfig) {
		t.Fatalf("layout=optima: %v, want bad-config", err)
	}
}
