#!/usr/bin/env bash
# Installs Debian's chromium for the web inspector's browser test and screenshots, and prints its path.
#
#   chromium.sh          installs the `chromium` package with apt-get when it is missing (as root), then
#                        prints the binary's path on the last line of stdout
#
# Playwright drives this binary through `executable_path`: Playwright's own browser download fetches from
# a CDN, which this project's machines cannot reach. Idempotent: a no-op when chromium is already there, so
# tests call it on every run. Environment: CHROMIUM (a binary to use instead; only checked and printed).
set -euo pipefail

log() { printf 'chromium.sh: %s\n' "$*" >&2; }

find_binary() {
  local candidate
  for candidate in "${CHROMIUM:-}" chromium chromium-browser; do
    [[ -n "$candidate" ]] || continue
    if command -v "$candidate" >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if bin="$(find_binary)"; then
  echo "$bin"
  exit 0
fi
if [[ -n "${CHROMIUM:-}" ]]; then
  log "CHROMIUM=$CHROMIUM is not an executable"
  exit 1
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  log "chromium is missing: install Debian's chromium package (apt-get install chromium) as root"
  exit 1
fi
# A lock keeps two test sessions started together from running apt-get at once (dpkg has its own lock,
# but the second one would fail on it instead of waiting).
(
  flock 9
  if ! find_binary >/dev/null; then
    log "installing chromium with apt-get (first run only)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  fi
) 9>/tmp/hookgate-chromium.lock
bin="$(find_binary)" || { log "apt-get install chromium left no chromium binary"; exit 1; }
echo "$bin"
