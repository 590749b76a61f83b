// Package buildinfo holds the version and commit printerd was built from.
// scripts/package.sh sets them at build time:
//
//	go build -ldflags "-X github.com/cityid/printerd/internal/buildinfo.Version=1.2.3 \
//	    -X github.com/cityid/printerd/internal/buildinfo.Commit=abc123" ./cmd/printerd
//
// A plain go build leaves Version "dev" and takes the commit from the
// module's VCS stamp when there is one.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version is the release version ("dev" unless set with -ldflags -X).
var Version = "dev"

// Commit is the git commit ("" unless set with -ldflags -X or stamped by
// the go command's -buildvcs).
var Commit = ""

// Info is what printerd version prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go"`
}

// Get returns the build's version, commit and Go version.
func Get() Info {
	in := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
		if in.Commit == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					in.Commit = s.Value
				}
			}
		}
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}
