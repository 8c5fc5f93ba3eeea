#!/usr/bin/env bash
# The Prometheus side of stagegate, checked with promtool (from Debian's prometheus package):
#   1. promtool check rules    observability/prometheus/rules/stagegate.yml
#   2. promtool test rules     observability/prometheus/tests/stagegate.test.yml (every alert)
#   3. promtool check config   observability/prometheus/scrape-example.yml
#   4. promtool check metrics  on a real scrape of the metrics function, written by
#      tests/e2e/metrics.test.ts (which also runs this check itself when promtool is on PATH).
#
# Usage: bash scripts/check-prometheus.sh [--install] [--metrics FILE]
#   --install       install promtool with apt-get when it is missing (needs root). Without the
#                   flag it is installed only as root with CI=true, as .ci/run does.
#   --metrics FILE  the scrape to check (default .stagegate/metrics-sample.prom); skipped with a
#                   note when the file does not exist yet (run the e2e test first).
set -euo pipefail
cd "$(dirname "$0")/.."

install=false
metrics=.stagegate/metrics-sample.prom
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=true ;;
    --metrics) metrics="${2:?--metrics needs a file}"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "check-prometheus: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

install_promtool() {
  if [ "$(id -u)" != 0 ]; then
    echo "check-prometheus: promtool is missing and installing it needs root: apt-get install prometheus" >&2
    exit 1
  fi
  echo "check-prometheus: installing promtool (apt-get install prometheus)"
  # The package would start a Prometheus server where an init system lets it; we only want the CLI.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  # one retry each: a passing mirror hiccup should not fail a CI run
  apt-get update -qq || { sleep 5; apt-get update -qq; }
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
    || { sleep 5; apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
}

if ! command -v promtool >/dev/null 2>&1; then
  if [ "$install" = true ] || { [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; }; then
    install_promtool
  else
    echo "check-prometheus: promtool not found; run with --install (as root) or apt-get install prometheus" >&2
    exit 1
  fi
fi
promtool --version 2>&1 | head -n 1

promtool check rules observability/prometheus/rules/stagegate.yml
promtool test rules observability/prometheus/tests/stagegate.test.yml
promtool check config observability/prometheus/scrape-example.yml

if [ -f "$metrics" ]; then
  echo "Checking $metrics"
  promtool check metrics < "$metrics"
  echo "  SUCCESS: $(grep -c '^# TYPE' "$metrics") metric families"
else
  echo "check-prometheus: no scrape at $metrics yet; tests/e2e/metrics.test.ts writes it and checks it with promtool"
fi
