#!/usr/bin/env bash
# Regenerates the golden binaries: every <pkg>/<Type>.<case>.txtpb (protobuf text format) is
# encoded by protoc into <pkg>/<Type>.<case>.bin. protoc is the oracle here, not our codec.
# Usage: test/golden/make.sh   (from anywhere; needs protoc and google/protobuf/descriptor.proto)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
command -v protoc >/dev/null || { echo "make.sh: protoc not found (Debian: protobuf-compiler)" >&2; exit 1; }
inc=(-Iproto -Itest/proto)
for d in /usr/include /usr/local/include; do
  [ -f "$d/google/protobuf/descriptor.proto" ] && inc+=("-I$d") && break
done
count=0
for pkg in cdfilter conf; do
  case $pkg in
    cdfilter) schema=proto/cdfilter/control.proto ;;
    conf)     schema=test/proto/conformance.proto ;;
  esac
  for txt in "$here/$pkg"/*.txtpb; do
    base="$(basename "$txt" .txtpb)"
    type="${base%%.*}"
    protoc --encode="$pkg.$type" "${inc[@]}" "$schema" <"$txt" >"$here/$pkg/$base.bin"
    count=$((count + 1))
  done
done
echo "make.sh: $count golden vectors encoded"
