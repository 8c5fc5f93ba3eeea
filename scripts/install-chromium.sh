#!/usr/bin/env bash
# Chromium for the console's browser tests (tests/browser, driven by playwright-core): Debian's
# `chromium` package, because Playwright's own browser download cannot reach its host from these
# machines. Does nothing when /usr/bin/chromium (or $STAGEGATE_CHROMIUM) already exists.
# Usage: bash scripts/install-chromium.sh   (installing needs root, as .ci/run runs)
set -euo pipefail
browser="${STAGEGATE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  echo "install-chromium: $("$browser" --version 2>/dev/null || echo "$browser") is installed"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium: Chromium is missing and installing it needs root: apt-get install chromium" >&2
  exit 1
fi
echo "install-chromium: installing Chromium (apt-get install chromium)"
export DEBIAN_FRONTEND=noninteractive
# one retry each: a passing mirror hiccup should not fail a CI run
apt-get update -qq || { sleep 5; apt-get update -qq; }
apt-get install -y -qq --no-install-recommends chromium >/dev/null \
  || { sleep 5; apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
"$browser" --version
