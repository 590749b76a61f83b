package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/buildinfo"
)

func TestVersion(t *testing.T) {
	old := buildinfo.Version
	buildinfo.Version = "9.8.7"
	defer func() { buildinfo.Version = old }()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"version"}, exitOK, "printerd 9.8.7 (commit "},
		{[]string{"version", "--json"}, exitOK, `"version":"9.8.7"`},
		{[]string{"version", "extra"}, exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := dispatch(context.Background(), tt.args, &out, &errb); code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output %q lacks %q", out.String(), tt.want)
			}
			if tt.code == exitOK && !strings.Contains(out.String(), runtime.Version()) {
				t.Errorf("output %q lacks the Go version %s", out.String(), runtime.Version())
			}
		})
	}
	var out bytes.Buffer
	dispatch(context.Background(), []string{"version", "--json"}, &out, &out)
	var in buildinfo.Info
	if err := json.Unmarshal(out.Bytes(), &in); err != nil || in.Commit == "" || in.GoVersion == "" {
		t.Errorf("version --json: %q: %v", out.String(), err)
	}
}
