#!/usr/bin/env bash
# Builds FerretDB (SQLite backend, pure Go) from the Go module proxy into the cache, once.
#
# Fixes to the module source before `go build`:
# 1. The module zip lacks build/version/version.txt; without it the binary panics at start.
# 2. Lookups by _id scan the whole table. FerretDB 1.x indexes _id as `_ferretdb_sjson->"_id"`
#    but finds, updates and deletes by _id with `_ferretdb_sjson->'$._id'`. SQLite only uses an
#    expression index for the same expression, so every find/update/delete by _id read and
#    parsed every row: cost grew with the collection (the bench fell from 4.7 to 1.4
#    households/s within 300). We write the _id expression the way the index has it. Same
#    results, now through the index; tests/test_ferretdb_build.py checks the query plan.
# 3. Only a filter of `_id` alone went to SQLite; `{_id: X, version: 3}` (every conditional
#    write) read the whole table. FerretDB filters every document it reads in Go again, so
#    narrowing the SQL by a plain `_id` whatever else the filter holds gives the same results.
#    We push it down whenever the filter has one (`Has("_id")` for `Len() == 1`, in Query and
#    Explain); the test checks the plan of a guarded filter too.
# 4. Writes as atomic as MongoDB's (ferretdb/atomic-writes.patch). The SQLite backend applies an
#    update as read, change in Go, write back in a second transaction, so two concurrent
#    guarded updates of one document could both pass their guard and one change was lost; a
#    lock per collection now spans each update, delete and findAndModify statement from read
#    to write (SQLite takes one writer at a time anyway), for every client and process. And
#    `update` kept each statement's iterator, holding one of 100 pooled SQLite connections,
#    open until the whole command ended (`defer` inside the loop): a command of 100 or more
#    statements, or concurrent ones adding up to 100, hung for ever. Each statement now closes
#    its own before the next starts. tests/test_ferretdb_build.py sends 1,000 statements.
# 5. Batches by id (ferretdb/batch-by-id.patch). A filter of `_id: {$in: [...]}` read the whole
#    table, since only a single _id went to SQLite: loading or changing a batch of documents by
#    their ids cost a scan of the collection per command (about 110 documents a second at
#    20,000 stored). It now narrows the SQL by `IN (...)` through the _id index, in Query and
#    Explain. And an update statement wrote each document it changed in a transaction of its
#    own, so an update of many documents cost as many transactions; it now writes them in one,
#    after reading them all. tests/test_ferretdb_build.py checks the plan and the counts.
# 6. One transaction per update command (ferretdb/update-in-one-transaction.patch). A bulk write
#    of many single-document updates (each consumer batch's guarded saves) still cost a
#    transaction and a collection lock per statement: about 1.0 ms of FerretDB's CPU per
#    statement against 0.35 for the same documents changed by one `$in` statement. The command
#    now takes the lock once and writes what its statements changed together at its end, or
#    sooner, before a statement that could read one of those documents (any filter but a
#    single `_id` none of them changed), so every statement still sees the ones before it.
#    When a statement fails, those before it are written, as before. The test sends statements
#    that read each other's changes.
# 7. A faster JSON decoder (ferretdb/faster-json.patch). FerretDB keeps documents as JSON text
#    and decodes the whole of one for every read and update, with encoding/json, in several
#    passes; under the bulk load that was a third of its CPU. The sjson package now imports
#    github.com/goccy/go-json (a drop-in, API-compatible encoder and decoder; fetched from the
#    Go module proxy at build time) instead: FerretDB 4.7 -> 3.6 ms of CPU per household on
#    the bulk path. Decoded strings and keys are copied: the stream decoder's strings share its
#    read buffer, and a result held whole in memory (FerretDB sorts in memory) kept every
#    buffer alive, three times the memory of encoding/json for a sorted read of 100,000
#    documents; with the copies it is a little less than encoding/json's (547 against 616 MB)
#    and faster (8.5 against 11.6 s). Its own sjson tests pass but for the wording of errors
#    about broken JSON; tests/test_ferretdb_build.py writes, rewrites and reads back every kind
#    of value we store.
# 8. No leak tracking of in-memory iterators (ferretdb/untracked-iterators.patch). Every iterator
#    over a document's fields or an array's items was registered in a pprof profile (a stack
#    walk each) and given a finalizer, to catch one left open; they hold nothing but memory, and
#    documents are iterated for every filter, projection and encoding: a tenth of FerretDB's CPU
#    under the bulk load. They are plain objects now; iterators over SQLite rows, transactions
#    and cursors, which hold connections, are tracked as before. FerretDB 3.9 -> 3.5 ms of CPU
#    per household on the bulk path, two runs each back to back.
# 9. Only unique indexes built (ferretdb/without-unread-indexes.patch). FerretDB's SQL narrows by
#    _id alone (fixes 3 and 5) and sorts in memory, so no query ever reads another index, yet
#    SQLite kept each one up to date: a parse of the document's JSON per index on every insert
#    and two on every update (the households' region and member NIK, the cases' region and
#    stage...). Unique indexes are built as before, since they refuse duplicates; the others stay
#    in FerretDB's catalogue (listIndexes, drop) with a size of 0 in the stats. Stores made by an
#    earlier build keep the indexes they have. tests/test_ferretdb_build.py checks all of it.
# 10. A single-pass decoder (ferretdb/sjson-decoder.patch). sjson.Unmarshal decoded a stored
#    document level by level: each object into a map of raw fields, then every field again with
#    a new decoder, so a nested value was scanned once per level and every scalar cost a decoder.
#    Every read and every update decodes whole documents: a third of FerretDB's CPU on the bulk
#    path. decode.go walks the bytes once, guided by the schema, and copies every string (nothing
#    keeps the input alive): 3.5-3.9 times less CPU and 6.5 times fewer allocations on a
#    household and a case; FerretDB 3.0 -> 2.15 ms per household on the bulk path. The old code
#    stays in the patch's tests, which compare the two on thousands of random documents, on every
#    truncated and mutated input, and re-encode byte for byte; they run below, before the build.
# 11. A single-pass encoder (ferretdb/sjson-encoder.patch), the same bytes as before for every
#    value: sjson.Marshal built schema structs and encoded them and every value through
#    go-json, into buffers copied into buffers: 462 allocations for a household, now one (the
#    result); 6-9 times less CPU. Every insert and update encodes whole documents. Its tests
#    compare the bytes with the old encoder's on random documents, strings and doubles.
# 12. NaN found on the raw bytes (ferretdb/nan-check-on-raw-bytes.patch). FerretDB refuses a NaN
#    in any request, by having the wire package decode every message in full to look, before
#    decoding it again to handle it: 5% of its CPU. clientconn now walks the request's raw BSON
#    for a NaN double instead, with the same outcome (the connection ends).
set -euo pipefail
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
CACHE="${SIKS_CACHE:-$HOME/.cache/siks}"
# The build is named by a hash of this script and the patches (deploy/local/stack.py computes
# the same), so a changed patch makes a new build beside the old one, which a running stack
# may still be using.
patches="$(cd "$(dirname "$0")" && pwd)/ferretdb"
build=$(cat "$0" "$patches"/*.patch | sha256sum | cut -c1-12)
bin="$CACHE/ferretdb-$FERRETDB_VERSION-$build/ferretdb"
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

metadata="$work/src/internal/backends/sqlite/metadata/metadata.go"
old='IDColumn = DefaultColumn + "->'"'"'$._id'"'"'"'
new='IDColumn = DefaultColumn + `->"_id"`'
grep -qF "$old" "$metadata" || { echo "install_ferretdb: the _id expression to fix is not in $metadata" >&2; exit 1; }
sed -i "s|$(printf '%s' "$old" | sed 's/[$.]/\\&/g')|$new|" "$metadata"
grep -qF "$new" "$metadata" || { echo "install_ferretdb: patching $metadata failed" >&2; exit 1; }

collection="$work/src/internal/backends/sqlite/collection.go"
[ "$(grep -c 'if params.Filter.Len() == 1 {' "$collection")" = 2 ] ||
  { echo "install_ferretdb: the _id pushdown condition to widen is not in $collection" >&2; exit 1; }
sed -i 's|if params.Filter.Len() == 1 {|if params.Filter.Has("_id") {|' "$collection"
[ "$(grep -c 'if params.Filter.Has("_id") {' "$collection")" = 2 ] ||
  { echo "install_ferretdb: patching $collection failed" >&2; exit 1; }

for diff in "$patches"/*.patch; do
  patch -p1 --forward --quiet -d "$work/src" < "$diff" ||
    { echo "install_ferretdb: $(basename "$diff") does not apply to FerretDB $FERRETDB_VERSION" >&2; exit 1; }
done

# The tests of fixes 10-12: the decoder and the encoder against the code they replaced, the NaN
# scan. FerretDB's test helpers find the source root by its .git.
mkdir -p "$work/src/.git"
(cd "$work/src" && go test -count=1 \
  -run 'TestUnmarshal(Differential|Strings|NoSharing|NilBinary|Malformed|Truncated|Mutated)$|TestMarshal(Differential|Strings|Doubles|Values|Panics|NoSharing)$|TestDocumentFieldAt$|TestRawHasNaN$' \
  ./internal/handler/sjson/ ./internal/types/ ./internal/clientconn/ >/dev/null) ||
  { echo "install_ferretdb: the patched decoder, encoder or NaN scan fails its tests" >&2; exit 1; }

mkdir -p "$(dirname "$bin")"
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" ./cmd/ferretdb)
mv "$bin.tmp" "$bin"
echo "install_ferretdb: FerretDB ready at $bin"
