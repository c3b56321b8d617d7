#!/usr/bin/env bash
# make bench: ceiling vs gateway (GitHub preset / no verification) under wrk, then the consumer.
# Flags pass through to bench/harness.py (--duration, --warmup, --threads, --connections, --scenarios, ...);
# each also has a BENCH_* environment variable. See docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"
[[ -x "$py" ]] || { echo "bench: run 'make install' first (no .venv)" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing wrk with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    echo "bench: wrk is missing; install it (Debian/Ubuntu: apt-get install wrk)" >&2; exit 1
  fi
fi

started_kafka=0
if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  if ! bash deploy/kafka-local/kafka.sh status; then
    bash deploy/kafka-local/kafka.sh up
    started_kafka=1
  fi
  export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT:-9092}"
fi
stop_kafka() { if ((started_kafka)); then bash deploy/kafka-local/kafka.sh down; fi; }
trap stop_kafka EXIT

"$py" -m bench.harness "$@"
