#!/usr/bin/env bash
# Started by `make dev` (after Kafka is up): the gateway, a consumer and the example workflow receiver,
# in the background with logs in .run/. `make dev-down` stops them (and Kafka).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run=.run
mkdir -p "$run"
py=.venv/bin/python

start() { # name, command...
  local name=$1; shift
  if [[ -f $run/$name.pid ]] && kill -0 "$(cat "$run/$name.pid")" 2>/dev/null; then
    echo "dev: $name already running (pid $(cat "$run/$name.pid"))"; return
  fi
  nohup "$@" >"$run/$name.log" 2>&1 </dev/null &
  echo $! >"$run/$name.pid"
}

wait_ready() { # name, url
  for _ in $(seq 1 100); do
    if $py -c "import sys,urllib.request; sys.exit(urllib.request.urlopen('$2', timeout=1).status != 200)" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; then echo "dev: $1 exited; see $run/$1.log"; tail -n 20 "$run/$1.log"; exit 1; fi
    sleep 0.2
  done
  echo "dev: $1 not ready; see $run/$1.log"; exit 1
}

start receiver "$py" examples/receiver.py 9000
start gateway "$py" -m hookgate gateway -c examples/gateway.yaml
start consumer "$py" -m hookgate consumer -c examples/consumer.yaml
wait_ready gateway http://127.0.0.1:8080/readyz
wait_ready consumer http://127.0.0.1:8081/readyz

default_secret="It's a Secret to Everybody"  # GitHub's documented example secret; dev only
secret="${GITHUB_WEBHOOK_SECRET:-$default_secret}"
body='{"ref":"refs/heads/main","repository":{"full_name":"acme/app"}}'
sig=$(SECRET="$secret" BODY="$body" $py -c 'import hashlib, hmac, os; print(hmac.new(os.environ["SECRET"].encode(), os.environ["BODY"].encode(), hashlib.sha256).hexdigest())')
cat <<MSG

hookgate is up:
  gateway   http://127.0.0.1:8080   (logs: $run/gateway.log, metrics: /metrics)
  consumer  http://127.0.0.1:8081   (logs: $run/consumer.log)
  receiver  http://127.0.0.1:9000   (logs: $run/receiver.log)

Send a signed GitHub push (expect 202 and an event id):

curl -i http://127.0.0.1:8080/hooks/dev-github-4PqY2mK8tR7wZx3LbN9vCs1D \\
  -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \\
  -H "X-GitHub-Delivery: \$(uuidgen 2>/dev/null || date +%s%N)" \\
  -H 'X-Hub-Signature-256: sha256=$sig' \\
  -d '$body'

Then watch the workflow runs arrive:  tail -f $run/receiver.log
Stop everything:                      make dev-down

Your own handlers beside it (docs/consumers.md, "Your first workflow"):
  hookgate check-config -c consumer.yaml --handlers myteam.handlers:app --gateway examples/gateway.yaml
  hookgate consumer --reload -c consumer.yaml --handlers myteam.handlers:app
MSG
