#!/bin/sh
# Builds the service for WASI (GOOS=wasip1 GOARCH=wasm) into dist/service.wasm,
# optimises it with binaryen's wasm-opt when that is installed (Debian package
# "binaryen"), and prints the size at each stage, like the seed design's table.
#
#   ./build.sh            build and optimise
#   SKIP_OPT=1 ./build.sh build only (wasm-opt takes ~20 s on a Go module)
set -eu
cd "$(dirname "$0")"
mkdir -p dist

size() { stat -c %s "$1"; }
human() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
row() { printf '| %-22s | %12s | %-44s |\n' "$1" "$(human "$2")" "$3"; }

GOOS=wasip1 GOARCH=wasm go build -o dist/service.wasm .
raw=$(size dist/service.wasm)

# Without the symbol table and DWARF: what a release build ships.
GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags="-s -w" -o dist/service.stripped.wasm .
stripped=$(size dist/service.stripped.wasm)
final=$stripped

echo
printf '| %-22s | %12s | %-44s |\n' "Stage" "Size" "Notes"
printf '|%s|%s|%s|\n' "------------------------" "--------------" "----------------------------------------------"
row "go build" "$raw" "GOOS=wasip1 GOARCH=wasm"
row "-ldflags=\"-s -w\"" "$stripped" "no symbol table or DWARF"

if [ -z "${SKIP_OPT:-}" ] && command -v wasm-opt >/dev/null 2>&1; then
	# Go emits sign-extension and saturating conversions; wasm-opt must be
	# told it may keep them.
	wasm-opt -Oz --strip-debug --strip-producers \
		--enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
		dist/service.stripped.wasm -o dist/service.opt.wasm
	final=$(size dist/service.opt.wasm)
	row "wasm-opt -Oz" "$final" "$(wasm-opt --version | head -n1), strip-debug"
	mv dist/service.opt.wasm dist/service.wasm
else
	[ -n "${SKIP_OPT:-}" ] || echo "(wasm-opt not found: apt-get install binaryen to optimise)" >&2
	cp dist/service.stripped.wasm dist/service.wasm
fi
rm -f dist/service.stripped.wasm

awk -v a="$raw" -v b="$final" 'BEGIN { printf "\ndist/service.wasm: %.2f MiB, %.1f%% smaller than the plain build\n", b / 1048576, 100 * (a - b) / a }'
