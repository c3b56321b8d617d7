#!/usr/bin/env bash
# Installs the tools the chart's tests need into the repo's ignored tool dir (.tools/), from package registries.
#
#   install.sh helm      helm (built with `go install` from the Go module proxy) -> prints the binary's path
#   install.sh crds      the prometheus-operator and gateway-api modules (Go module cache) -> prints their CRD files
#   install.sh all       both
#
# Each step does nothing when its result is already there, so tests call it on every run.
# Environment: HOOKGATE_TOOLS (default <repo>/.tools), HELM_VERSION, PROMETHEUS_OPERATOR_VERSION, GATEWAY_API_VERSION.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools="${HOOKGATE_TOOLS:-$repo/.tools}"
helm_version="${HELM_VERSION:-v3.22.0}"
# The CRD schemas ServiceMonitor and PrometheusRule are validated against; they are never committed.
operator_version="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
gateway_api_version="${GATEWAY_API_VERSION:-v1.2.1}"

log() { printf 'install.sh: %s\n' "$*" >&2; }

need_go() {
  command -v go >/dev/null 2>&1 && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing golang-go with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
  fi
  command -v go >/dev/null 2>&1 || { log "go is required to install helm (https://go.dev/dl)"; exit 1; }
}

install_helm() {
  local bin="$tools/bin/helm" stamp="$tools/bin/.helm-$helm_version"
  if [[ -x "$bin" && -f "$stamp" ]]; then echo "$bin"; return 0; fi
  need_go
  mkdir -p "$tools/bin"
  log "building helm $helm_version with go install (first run only, takes a few minutes)"
  # A lock keeps two test sessions started together from building into the same directory at once.
  (
    flock 9
    if [[ ! -x "$bin" || ! -f "$stamp" ]]; then
      GOBIN="$tools/bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "helm.sh/helm/v3/cmd/helm@$helm_version"
      rm -f "$tools/bin"/.helm-*
      touch "$stamp"
    fi
  ) 9>"$tools/.helm.lock"
  "$bin" version --short >/dev/null
  echo "$bin"
}

module_dir() {
  # go mod download prints the module's directory in the module cache (downloading it once, then cached).
  (cd "${TMPDIR:-/tmp}" && GOFLAGS= go mod download -json "$1") |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

install_crds() {
  need_go
  local operator gateway_api
  operator=$(module_dir "github.com/prometheus-operator/prometheus-operator@$operator_version")
  gateway_api=$(module_dir "sigs.k8s.io/gateway-api@$gateway_api_version")
  [[ -d "$operator/example/prometheus-operator-crd" && -d "$gateway_api/config/crd/standard" ]] ||
    { log "the CRD directories are missing from the downloaded modules"; exit 1; }
  # One CRD file a line: ServiceMonitor, PrometheusRule, HTTPRoute (the kinds the chart renders).
  printf '%s\n' \
    "$operator/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    "$operator/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
    "$operator/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" \
    "$gateway_api/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"
}

case "${1:-all}" in
  helm) install_helm ;;
  crds) install_crds ;;
  all) install_helm; install_crds ;;
  *) log "usage: install.sh helm|crds|all"; exit 2 ;;
esac
