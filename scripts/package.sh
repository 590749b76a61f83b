#!/usr/bin/env bash
# Builds the Debian package dist/printerd_<version>_<arch>.deb with nfpm
# (pinned below), reproducibly: the same commit gives the same bytes.
#
#   scripts/deps.sh && scripts/package.sh        # then: apt install ./dist/printerd_*.deb
#
# Environment: VERSION (default packaging/VERSION + "+git<date>.<commit>"),
# DIST (output directory, default dist), SOURCE_DATE_EPOCH (default the
# commit's time; dates every file in the package and the man pages).
# What goes in the package is in packaging/ (nfpm.yaml lists it).
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DIST=${DIST:-dist}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  commit="$commit-dirty"
fi
COMMIT=${COMMIT:-$commit}
VERSION=${VERSION:-$(cat packaging/VERSION)+git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).$(git rev-parse --short=12 HEAD)}
ARCH=$(go env GOARCH)
BUILD="$DIST/build-$ARCH"
DEB="$DIST/printerd_${VERSION}_${ARCH}.deb"

rm -rf "$BUILD"
mkdir -p "$BUILD/doc"
pkg=github.com/cityid/printerd/internal/buildinfo
CGO_ENABLED=1 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X $pkg.Version=$VERSION -X $pkg.Commit=$COMMIT" \
  -o "$BUILD/printerd" ./cmd/printerd
go run -trimpath ./internal/cmd/mkdocs --bin "$BUILD/printerd" --out "$BUILD" --version "$VERSION"
cp packaging/nfpm.yaml packaging/printerd.service packaging/60-printerd.rules packaging/printerd.json \
  packaging/postinst packaging/prerm packaging/postrm "$BUILD/"
cp packaging/doc/* "$BUILD/doc/"
rm -f "$DEB"
# nfpm reads the files relative to the staging directory; SOURCE_DATE_EPOCH
# fixes every mtime in the archive.
(cd "$BUILD" && VERSION="$VERSION" ARCH="$ARCH" go run "$NFPM" package --packager deb --config nfpm.yaml --target "../$(basename "$DEB")" >&2)
echo "$DEB $(stat -c %s "$DEB") bytes sha256 $(sha256sum "$DEB" | cut -d' ' -f1)"
