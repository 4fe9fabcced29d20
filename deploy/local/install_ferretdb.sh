#!/usr/bin/env bash
# Builds FerretDB (SQLite backend, pure Go) from the Go module proxy into the cache, once.
# `go install` alone gives a binary that panics at start: the module zip lacks
# build/version/version.txt, so we copy the source out, write that file, then build.
set -euo pipefail
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
CACHE="${SIKS_CACHE:-$HOME/.cache/siks}"
bin="$CACHE/ferretdb-$FERRETDB_VERSION/ferretdb"
if [ -x "$bin" ]; then exit 0; fi
command -v go >/dev/null || { echo "install_ferretdb: Go is required" >&2; exit 1; }
echo "install_ferretdb: building FerretDB $FERRETDB_VERSION (first run only)..."
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
modcache=$(go env GOMODCACHE)
(cd "$work" && GOFLAGS=-mod=mod go mod download -x "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" >/dev/null 2>&1 || true)
src="$modcache/github.com/!ferret!d!b/!ferret!d!b@$FERRETDB_VERSION"
[ -d "$src" ] || (cd "$work" && go mod download "github.com/FerretDB/FerretDB@$FERRETDB_VERSION")
cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
echo "${FERRETDB_VERSION}" > "$work/src/build/version/version.txt"
mkdir -p "$(dirname "$bin")"
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" ./cmd/ferretdb)
mv "$bin.tmp" "$bin"
echo "install_ferretdb: FerretDB ready at $bin"
