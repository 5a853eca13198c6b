#!/usr/bin/env bash
# Installs the Debian packages given as arguments when any is missing.
# Used by `make deps`, `make run`, `make test` and `make bench`: a fresh
# Debian 12 machine needs nothing installed by hand. Root installs with
# apt-get, anyone else through sudo. Without recommends: a package that a
# job needs is named, never pulled in by chance.
#
#   scripts/deps.sh PKG...          install what is missing
#   scripts/deps.sh --check PKG...  only say what is missing (exit 1), for a
#                                   plain `make`, which installs nothing
set -euo pipefail
check=0
if [ "${1:-}" = --check ]; then
    check=1
    shift
fi
# A package counts as present when it is installed, or when an installed
# package provides it (nodesource's nodejs provides npm, and conflicts with
# Debian's).
provided=$(dpkg-query -W -f='${Status}\t${Provides}\n' 2>/dev/null | awk -F'\t' '$1 ~ /install ok installed/ {print $2}' |
    tr ',' '\n' | sed 's/ *(.*//; s/^ *//' | sort -u)
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
    grep -qxF "$p" <<<"$provided" && continue
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ $check = 1 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "'make deps' installs them (or: apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "deps: not root and no sudo; as root run: apt-get install ${missing[*]}" >&2
        exit 1
    }
    sudo=(sudo)
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
