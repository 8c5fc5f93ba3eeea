#!/usr/bin/env bash
# Debian's PostgreSQL 15 and its pg_cron package (1.4.2 on bookworm), for
# tests/e2e/existing-postgres.test.ts: the stack against an existing, self-hosted PostgreSQL with
# pg_cron installed, both not preloaded and preloaded. Nothing is started here: the test runs its
# own server on a free loopback port in a temporary folder.
#
# Usage: bash scripts/install-postgres-cron.sh [--install] [--soft]
#   --install  install the packages with apt-get when they are missing (needs root). Without the
#              flag they are installed only as root with CI=true, as .ci/run does.
#   --soft     when they cannot be installed, say so and exit 0 (the test then skips, saying so)
set -euo pipefail

install=false
soft=false
for arg in "$@"; do
  case "$arg" in
    --install) install=true ;;
    --soft) soft=true ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-postgres-cron: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

present() { [ -x /usr/lib/postgresql/15/bin/postgres ] && [ -f /usr/lib/postgresql/15/lib/pg_cron.so ]; }

give_up() {
  echo "install-postgres-cron: $1" >&2
  if [ "$soft" = true ]; then exit 0; else exit 1; fi
}

if ! present; then
  if [ "$install" = true ] || { [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; }; then
    [ "$(id -u)" = 0 ] || give_up "postgresql-15 and postgresql-15-cron are missing and installing them needs root"
    echo "install-postgres-cron: installing postgresql-15 postgresql-15-cron (apt-get)"
    # The server package would start a cluster where an init system lets it; we only want the binaries.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    # one retry each: a passing mirror hiccup should not fail a CI run
    apt-get update -qq || { sleep 5; apt-get update -qq; } || give_up "apt-get update failed"
    apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-15-cron >/dev/null \
      || { sleep 5; apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-15-cron >/dev/null; } \
      || give_up "apt-get install postgresql-15 postgresql-15-cron failed"
  else
    give_up "postgresql-15 / postgresql-15-cron not installed; run with --install (as root)"
  fi
fi
present || give_up "packages installed but /usr/lib/postgresql/15/lib/pg_cron.so is missing"
echo "install-postgres-cron: $(/usr/lib/postgresql/15/bin/postgres --version), pg_cron $(sed -n "s/^default_version = '\(.*\)'/\1/p" /usr/share/postgresql/15/extension/pg_cron.control)"
