package evolis

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
)

func TestOptionsFromParams(t *testing.T) {
	tests := []struct {
		query string
		want  Options
		err   string
	}{
		{"", Options{}, ""},
		{"compress=1&rotate=90&levels=64&ribbon=ko&timeout=2s&motion-timeout=30s&padding=-1&resets=5&pool=x&baud=9600",
			Options{Compress: true, Rotation: 90, Levels: 64, Ribbon: card.KO, ReplyTimeout: 2 * time.Second,
				MotionTimeout: 30 * time.Second, Padding: -1, MaxResets: 5}, ""},
		{"compress=yes", Options{}, "compress"},
		{"rotate=180", Options{}, "rotation 180"},
		{"levels=48", Options{}, "levels 48"},
		{"ribbon=rgb", Options{}, "ribbon"},
		{"timeout=5", Options{}, "timeout"},
		{"padding=x", Options{}, "padding"},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, err := OptionsFromParams(q)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want one naming %q", tt.query, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.query, got, err, tt.want)
		}
		if _, err := Language(nil, q); err != nil {
			t.Errorf("%q: Language: %v", tt.query, err)
		}
	}
	d := Options{}.withDefaults()
	if d.ReplyTimeout != 5*time.Second || d.Rotation != 270 || d.Levels != 32 || d.Padding != 64 || d.MaxResets != 2 || d.MotionTimeout != time.Minute {
		t.Errorf("defaults = %+v", d)
	}
}
