#!/usr/bin/env bash
# promtool from Debian's `prometheus` package, unpacked into <repo>/.tools/ (git-ignored) and run with the
# given arguments. Nothing is installed system-wide and no Prometheus server is started: the package is
# downloaded with `apt-get download` and only extracted with `dpkg-deb -x`. Once unpacked it is reused.
#
#   deploy/tools/promtool.sh check rules deploy/monitoring/alerts.yaml
#   deploy/tools/promtool.sh --print-path      # install if needed, print the binary's path
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
root="$repo/.tools/prometheus"
bin="$root/usr/bin/promtool"

install_promtool() {
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
    || { echo "promtool.sh: apt-get and dpkg-deb are needed (a Debian or Ubuntu machine)" >&2; exit 1; }
  local work
  work="$(mktemp -d "$repo/.tools/promtool.XXXXXX")"
  trap 'rm -rf "$work"' RETURN
  # apt drops privileges to _apt for downloads; a directory it can write keeps its warning away.
  chmod 0777 "$work"
  if ! (cd "$work" && apt-get download -q prometheus >&2); then
    echo "promtool.sh: apt-get download failed; refreshing the package lists once" >&2
    apt-get update -q >&2
    (cd "$work" && apt-get download -q prometheus >&2)
  fi
  local deb
  deb="$(find "$work" -maxdepth 1 -name 'prometheus_*.deb' | head -n 1)"
  [[ -n "$deb" ]] || { echo "promtool.sh: no prometheus .deb was downloaded" >&2; exit 1; }
  rm -rf "$work/x" && dpkg-deb -x "$deb" "$work/x"
  [[ -x "$work/x/usr/bin/promtool" ]] || { echo "promtool.sh: the package has no usr/bin/promtool" >&2; exit 1; }
  rm -rf "$root" && mv "$work/x" "$root"  # in place only once complete, so a half-unpacked tree is never used
}

if [[ ! -x "$bin" ]]; then
  mkdir -p "$repo/.tools"
  exec 9>"$repo/.tools/promtool.lock"
  flock 9  # two test runs starting together unpack it once
  [[ -x "$bin" ]] || install_promtool
  exec 9>&-
fi

if [[ "${1:-}" == "--print-path" ]]; then
  echo "$bin"
  exit 0
fi
exec "$bin" "$@"
