package evolis

import (
	"strings"
	"testing"
)

func TestValidateTrack(t *testing.T) {
	tests := []struct {
		track int
		data  string
		ok    bool
		rule  string // part of the error
	}{
		{1, "B4111111111111111^TEST/CARD^2512", true, ""},
		{1, strings.Repeat("A", 79), true, ""},
		{1, strings.Repeat("A", 80), false, "at most 79"},
		{1, "lower", false, "6-bit set"},
		{1, "A%B", false, "sentinel"},
		{1, "A?B", false, "sentinel"},
		{1, "A\x7fB", false, "6-bit set"},
		{2, "4111111111111111=2512", true, ""},
		{2, strings.Repeat("9", 40), true, ""},
		{2, strings.Repeat("9", 41), false, "at most 40"},
		{2, "12A4", false, "not a digit"},
		{2, "12;4", false, "not a digit"},
		{3, strings.Repeat("1", 107), true, ""},
		{3, strings.Repeat("1", 108), false, "at most 107"},
		{3, "12 3", false, "not a digit"},
		{4, "1", false, "want 1, 2 or 3"},
	}
	for _, tt := range tests {
		err := ValidateTrack(tt.track, tt.data)
		if tt.ok != (err == nil) {
			t.Errorf("ValidateTrack(%d, %d chars) = %v, want ok=%v", tt.track, len(tt.data), err, tt.ok)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("ValidateTrack(%d) error %q does not name the rule %q", tt.track, err, tt.rule)
			}
			if len(tt.data) > 3 && strings.Contains(err.Error(), tt.data) {
				t.Errorf("ValidateTrack(%d) error %q leaks the track data", tt.track, err)
			}
		}
	}
}
