#!/usr/bin/env bash
# One-command set-up for the whole test suite on a fresh Debian/Ubuntu machine (README, "test
# line"): the system packages of scripts/requirements.txt that are missing (apt-get, through sudo
# when not root), `npm ci`, then the Wine pieces (scripts/wine/setup.sh). Idempotent.
# Where packages cannot be installed it stops with one line naming all of them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

missing_pkgs=()
while read -r check pkg _; do
  [[ -z $check || $check == \#* ]] && continue
  if [[ $check == /* ]]; then [[ -e $check ]] && continue; else command -v "$check" >/dev/null 2>&1 && continue; fi
  [[ " ${missing_pkgs[*]-} " == *" $pkg "* ]] || missing_pkgs+=("$pkg")
done < scripts/requirements.txt

if ((${#missing_pkgs[@]} > 0)); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo); else
      echo "setup: missing system packages: ${missing_pkgs[*]} (run as root, or with password-less sudo: apt-get install ${missing_pkgs[*]})" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing system packages (Debian names): ${missing_pkgs[*]}; this machine has no apt-get: install their equivalents" >&2
    exit 1
  fi
  echo "setup: installing ${missing_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
fi

# A root directory that other users cannot traverse (a chroot made with mktemp -d is 0700) stops
# every program the fleet tests run as the postgres user ("Permission denied" on exec). A normal
# system's / is 0755; make it so when we may.
if [[ $(id -u) -eq 0 && $(( 0$(stat -c %a /) & 1 )) -eq 0 ]]; then
  echo "setup: / is not searchable by other users (mode $(stat -c %a /)); setting it to 0755" >&2
  chmod 0755 /
fi

npm ci --no-audit --no-fund
bash scripts/wine/setup.sh
bash scripts/node22.sh
