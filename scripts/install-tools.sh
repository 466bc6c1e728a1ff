#!/usr/bin/env bash
# Builds/installs the ecosystem tools Lookout is exercised against (collector,
# Jaeger, k6, linters, Prometheus, the Go SDK's MCP client). Run as `npm run tools`, optionally naming a
# subset: `npm run tools -- k6 actionlint`.
#
# Only the Go module proxy and Debian apt are assumed reachable, so everything
# is built from Go modules; nothing is downloaded from GitHub releases.
# Results are cached per tool+version; a re-run only checks stamps.
set -euo pipefail

# --- pinned versions ---------------------------------------------------------
# Collector builder release; must equal the module versions in
# otel-collector/builder-config.yaml (core v0.161.0/v1.67.0, contrib v0.161.0).
OCB_VERSION=v0.161.0
# Jaeger v2 lives in the v1-pathed module: tag v1.76.0 is release v2.13.0.
JAEGER_MODULE_VERSION=v1.76.0
JAEGER_VERSION=v2.13.0
K6_VERSION=v1.8.1
ACTIONLINT_VERSION=v1.7.12
KUBECONFORM_VERSION=v0.8.0
# Debian 12 (bookworm) packages; upstream versions checked, Debian revisions
# (security updates) are allowed to move.
PROMETHEUS_VERSION=2.42.0
ALERTMANAGER_VERSION=0.25.0
WRK_VERSION=4.1.0 # the benchmark's closed-model load generator
# Debian's chromium, for the live view's browser test; it follows Debian's security updates, so any
# version is accepted.
GO_MIN_VERSION=1.26 # contrib v0.161.0 and kubeconform v0.8.0 need go >= 1.26

ALL_TOOLS=(otelcol jaeger k6 actionlint kubeconform prometheus chromium mcp-go-client)

# --- layout ------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/lookout"
BIN_DIR="$CACHE_DIR/bin"
STAMP_DIR="$CACHE_DIR/stamps"
LOG_DIR="$CACHE_DIR/logs"
mkdir -p "$BIN_DIR" "$STAMP_DIR" "$LOG_DIR"

# Keep Go state inside the cache so builds are reusable and never touch the
# user's GOPATH. -modcacherw lets `rm -rf` clear the cache; GOTOOLCHAIN=local
# because toolchain downloads are not reachable.
export GOPATH="$CACHE_DIR/go"
export GOMODCACHE="$GOPATH/pkg/mod"
export GOCACHE="$CACHE_DIR/go-build"
export GOBIN="$BIN_DIR"
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw"

CLEANUP=()
SUDO=()
POLICY_RC_CREATED=0
cleanup() {
  if ((${#CLEANUP[@]})); then rm -rf "${CLEANUP[@]}"; fi
  remove_policy_rc
}
trap cleanup EXIT

die() {
  echo "install-tools: $*" >&2
  exit 1
}
now() { date +%s; }

# A stamp records a successful, verified build; binary + stamp => skip.
is_cached() { [[ -f "$STAMP_DIR/$1" && -x "$BIN_DIR/$2" ]]; }
mark_built() { date -u +%FT%TZ >"$STAMP_DIR/$1"; }

# Run a build step quietly; on failure show the tail of its log.
run_logged() {
  local log="$1"
  shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "failed: $* (full log: $log)"
  fi
}

require_go() {
  command -v go >/dev/null || die "go not found on PATH (need go >= $GO_MIN_VERSION)"
  local have
  have="$(go env GOVERSION)"
  have="${have#go}"
  if [[ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$have" | sort -V | head -n1)" != "$GO_MIN_VERSION" ]]; then
    die "go $have is too old; need >= $GO_MIN_VERSION"
  fi
}

# --- tools -------------------------------------------------------------------
go_install_tool() { # name version package version-flag [extra ldflags]
  local name="$1" version="$2" pkg="$3" vflag="$4" ldx="${5:-}"
  local key="$name@$version"
  if is_cached "$key" "$name"; then
    echo "ok $name $version (cached)"
    return
  fi
  local t0
  t0="$(now)"
  run_logged "$LOG_DIR/$key.log" go install -trimpath -ldflags "-s -w $ldx" "$pkg@$version"
  local reported
  reported="$("$BIN_DIR/$name" "$vflag" 2>&1)" || true
  [[ "$reported" == *"$version"* ]] || die "$name $vflag does not report $version: $reported"
  mark_built "$key"
  echo "built $name $version in $(($(now) - t0))s"
}

install_otelcol() {
  local config="$REPO_ROOT/otel-collector/builder-config.yaml"
  [[ -f "$config" ]] || die "missing $config"
  # Key on the manifest's content too, so editing it triggers a rebuild.
  local hash key
  hash="$(sha256sum "$config" | cut -c1-12)"
  key="otelcol-lookout@$OCB_VERSION-$hash"
  if is_cached "$key" otelcol-lookout; then
    echo "ok otelcol-lookout $OCB_VERSION (cached)"
    return
  fi
  local t0 ocb_dir work
  t0="$(now)"
  ocb_dir="$CACHE_DIR/ocb/$OCB_VERSION"
  if [[ ! -x "$ocb_dir/builder" ]]; then
    GOBIN="$ocb_dir" run_logged "$LOG_DIR/ocb@$OCB_VERSION.log" \
      go install -trimpath go.opentelemetry.io/collector/cmd/builder@"$OCB_VERSION"
  fi
  # output_path in the manifest is relative, so ocb generates sources here.
  work="$CACHE_DIR/otelcol/$OCB_VERSION-$hash"
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$work" && run_logged "$LOG_DIR/$key.log" "$ocb_dir/builder" --config "$config")
  install -m 0755 "$work/build/otelcol-lookout" "$BIN_DIR/otelcol-lookout"
  verify_otelcol
  mark_built "$key"
  echo "built otelcol-lookout $OCB_VERSION in $(($(now) - t0))s"
}

verify_otelcol() {
  local bin="$BIN_DIR/otelcol-lookout" listing name cfg
  listing="$("$bin" components)"
  # v0.161 names; the classic otlp/otlphttp/spanmetrics/loadbalancing still
  # work as deprecated aliases (they log a warning at startup).
  for name in otlp memory_limiter batch tail_sampling span_metrics otlp_grpc otlp_http \
    prometheus debug load_balancing health_check; do
    grep -q -- "- name: $name\$" <<<"$listing" || die "otelcol-lookout lacks component $name"
  done
  cfg="$(mktemp /tmp/lookout-otelcol-XXXXXX.yaml)"
  CLEANUP+=("$cfg")
  cat >"$cfg" <<'EOF'
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:4317 }
      http: { endpoint: 127.0.0.1:4318 }
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 256 }
  batch: {}
  tail_sampling:
    decision_wait: 5s
    policies:
      - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
connectors:
  span_metrics: {}
exporters:
  otlp_grpc: { endpoint: 127.0.0.1:14317, tls: { insecure: true } }
  otlp_http: { endpoint: http://127.0.0.1:14318 }
  prometheus: { endpoint: 127.0.0.1:8889 }
  debug: {}
  load_balancing:
    protocol: { otlp: { tls: { insecure: true } } }
    resolver: { static: { hostnames: [127.0.0.1:14317] } }
extensions:
  health_check: { endpoint: 127.0.0.1:13133 }
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, tail_sampling, batch]
      exporters: [otlp_grpc, otlp_http, load_balancing, debug, span_metrics]
    metrics:
      receivers: [otlp, span_metrics]
      processors: [memory_limiter, batch]
      exporters: [prometheus, debug]
EOF
  "$bin" validate --config "$cfg" >"$LOG_DIR/otelcol-validate.log" 2>&1 ||
    {
      cat "$LOG_DIR/otelcol-validate.log" >&2
      die "otelcol-lookout validate failed"
    }
}

install_jaeger() {
  local key="jaeger@$JAEGER_VERSION"
  if is_cached "$key" jaeger; then
    echo "ok jaeger $JAEGER_VERSION (cached)"
    return
  fi
  local t0 src log="$LOG_DIR/$key.log"
  t0="$(now)"
  # `go install jaeger/cmd/jaeger@...` is refused because jaeger's go.mod has
  # a replace directive, so build inside the downloaded module instead (its
  # go.mod/go.sum then apply as the main module).
  local json
  json="$(cd "$CACHE_DIR" && go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION" 2>&1)" ||
    die "could not download jaeger $JAEGER_MODULE_VERSION: $json"
  src="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")"
  [[ -d "$src/cmd/jaeger" ]] || die "jaeger $JAEGER_MODULE_VERSION has no cmd/jaeger: $json"
  local vpkg=github.com/jaegertracing/jaeger/internal/version
  (cd "$src" && run_logged "$log" go build -trimpath \
    -ldflags "-s -w -X $vpkg.latestVersion=$JAEGER_VERSION" \
    -o "$BIN_DIR/jaeger" ./cmd/jaeger)
  local reported
  reported="$("$BIN_DIR/jaeger" version 2>/dev/null)" || true
  [[ "$reported" == *"\"gitVersion\":\"$JAEGER_VERSION\""* ]] || die "jaeger version check failed: $reported"
  # The all-in-one config (memory storage, OTLP receivers) must load.
  "$BIN_DIR/jaeger" validate --config "$src/cmd/jaeger/config.yaml" >>"$log" 2>&1 ||
    die "jaeger validate failed (log: $log)"
  mark_built "$key"
  echo "built jaeger $JAEGER_VERSION in $(($(now) - t0))s"
}

# The Go SDK's MCP client for the gateway matrix (test/stack/gateway-matrix.test.ts): a program of
# ours, keyed on its sources so an edit rebuilds it; go.mod pins the SDK.
install_mcp_go_client() {
  local src="$REPO_ROOT/test/interop/go-client" hash key
  hash="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)"
  key="mcp-go-client@$hash"
  if is_cached "$key" mcp-go-client; then
    echo "ok mcp-go-client $hash (cached)"
    return
  fi
  local t0
  t0="$(now)"
  (cd "$src" && run_logged "$LOG_DIR/$key.log" go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/mcp-go-client" .)
  local usage
  usage="$("$BIN_DIR/mcp-go-client" 2>&1)" && die "mcp-go-client without arguments should fail"
  [[ "$usage" == *"usage: go-client"* ]] || die "mcp-go-client does not run: $usage"
  mark_built "$key"
  echo "built mcp-go-client $hash in $(($(now) - t0))s"
}

apt_version() { dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null | sed -n 's/^installed //p'; }

# apt-get install, as root or through sudo. The packages' maintainer scripts may not
# start daemons (Debian's policy-rc.d convention) unless the host has its own policy.
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install $*"
    SUDO=(sudo)
  fi
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 0755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  run_logged "$LOG_DIR/apt-update.log" "${SUDO[@]}" apt-get update -qq
  run_logged "$LOG_DIR/apt-install.log" "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@"
  remove_policy_rc
}

install_prometheus() {
  local pkgs=(prometheus prometheus-alertmanager wrk) took=""
  if [[ -z "$(apt_version prometheus)" || -z "$(apt_version prometheus-alertmanager)" || -z "$(apt_version wrk)" ]]; then
    local t0
    t0="$(now)"
    apt_install "${pkgs[@]}"
    stop_apt_services
    took=" in $(($(now) - t0))s"
  fi
  local p v want
  for p in "${pkgs[@]}"; do
    v="$(apt_version "$p")"
    case "$p" in
    prometheus-alertmanager) want="$ALERTMANAGER_VERSION" ;;
    wrk) want="$WRK_VERSION" ;;
    *) want="$PROMETHEUS_VERSION" ;;
    esac
    [[ "$v" == "$want"[+-]* ]] || die "$p is $v, expected upstream version $want"
    if [[ -n "$took" ]]; then
      echo "installed $p $v (apt)$took"
    else
      echo "ok $p $v (apt, already installed)"
    fi
  done
  # One bin dir for everything: expose the apt binaries beside the Go ones.
  ln -sf /usr/bin/prometheus "$BIN_DIR/prometheus"
  ln -sf /usr/bin/promtool "$BIN_DIR/promtool"
  ln -sf /usr/bin/prometheus-alertmanager "$BIN_DIR/alertmanager"
  ln -sf /usr/bin/amtool "$BIN_DIR/amtool"
  ln -sf /usr/bin/wrk "$BIN_DIR/wrk"
}

install_chromium() {
  local pkgs=(chromium fonts-liberation)
  if [[ -z "$(apt_version chromium)" || -z "$(apt_version fonts-liberation)" ]]; then
    local t0
    t0="$(now)"
    apt_install "${pkgs[@]}"
    echo "installed chromium $(apt_version chromium) (apt) in $(($(now) - t0))s"
  else
    echo "ok chromium $(apt_version chromium) (apt, already installed)"
  fi
  ln -sf /usr/bin/chromium "$BIN_DIR/chromium"
}

remove_policy_rc() {
  if ((POLICY_RC_CREATED)); then
    "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=0
  fi
}

# The tools are started by tests/compose on their own ports; a daemon left by
# the package install would hold 9090/9093.
stop_apt_services() {
  local svc state
  if command -v systemctl >/dev/null; then
    state="$(systemctl is-system-running 2>/dev/null || true)"
    if [[ -n "$state" && "$state" != offline ]]; then
      for svc in prometheus prometheus-alertmanager; do
        "${SUDO[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
      done
    fi
  fi
  local port pid exe
  for port in 9090 9093; do
    command -v ss >/dev/null || break
    for pid in $(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
      exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
      case "$exe" in
      /usr/bin/prometheus | /usr/bin/prometheus-alertmanager) "${SUDO[@]}" kill "$pid" || true ;;
      *) echo "install-tools: warning: port $port is held by pid $pid ($exe), left alone" >&2 ;;
      esac
    done
  done
}

# --- main --------------------------------------------------------------------
tools=("$@")
((${#tools[@]})) || tools=("${ALL_TOOLS[@]}")
for t in "${tools[@]}"; do
  [[ " ${ALL_TOOLS[*]} " == *" $t "* ]] || die "unknown tool '$t' (choose from: ${ALL_TOOLS[*]})"
done

# Serialise concurrent runs sharing one cache (e.g. two terminals, CI + dev).
exec 9>"$CACHE_DIR/.lock"
flock 9

start="$(now)"
needs_go=0
for t in "${tools[@]}"; do [[ "$t" != prometheus && "$t" != chromium ]] && needs_go=1; done
((needs_go)) && require_go

# Sequential on purpose: the machines have 2 cores and each build uses both.
for t in "${tools[@]}"; do
  case "$t" in
  otelcol) install_otelcol ;;
  jaeger) install_jaeger ;;
  k6) go_install_tool k6 "$K6_VERSION" go.k6.io/k6 version ;;
  actionlint) go_install_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint -version ;;
  kubeconform)
    go_install_tool kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform -v \
      "-X main.version=$KUBECONFORM_VERSION"
    ;;
  prometheus) install_prometheus ;;
  chromium) install_chromium ;;
  mcp-go-client) install_mcp_go_client ;;
  esac
done
echo "tools ready in $(($(now) - start))s; add to PATH:" >&2
echo "$BIN_DIR"
