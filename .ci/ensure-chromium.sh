#!/usr/bin/env bash
# Makes sure Debian's chromium is at /usr/bin/chromium for the local page test (test/quickstart/local-ui.test.ts).
# playwright-core drives it; Playwright's own browser downloads cannot work on these machines.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi

echo "chromium: not found, installing Debian's package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
