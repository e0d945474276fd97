#!/usr/bin/env bash
# Prepare this host to run kind clusters: a Docker engine that answers, privileged containers
# that start, and inotify limits kind's nodes need. Safe to run again: each step checks first
# and changes nothing that already works.
#
#   scripts/prepare-host.sh            # check, and fix what it can (installing needs root)
#   scripts/prepare-host.sh --browser  # only the browser the website's test drives (make test)
#
# Environment: KUBELAB_CACHE (default ~/.cache/kubelab) holds the dockerd log and the shim.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${KUBELAB_CACHE:-${HOME:-/root}/.cache/kubelab}
mkdir -p "$cache"
dockerd_log=$cache/dockerd.log
shim_dir=/usr/local/lib/kubelab
shim=$shim_dir/kubelab-runc-shim
shim_runtime=kubelab-runc

say() { printf 'prepare-host: %s\n' "$*"; }
die() { printf 'prepare-host: error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
has_systemd() { [ -d /run/systemd/system ]; }

apt_install() {
  is_root || die "$* is missing and installing it needs root. Fix: sudo apt-get install $*"
  command -v apt-get >/dev/null || die "$* is missing and this host has no apt-get. Install it with your system's package manager, then run again."
  say "installing $* from Debian packages (log: $cache/apt.log)"
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; } >"$cache/apt.log" 2>&1; then
    tail -n 20 "$cache/apt.log" >&2
    die "apt-get install $* failed; full log: $cache/apt.log"
  fi
}

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

dockerd_pid() { pgrep -x dockerd | head -n 1; }

start_dockerd() {
  if has_systemd; then
    say "starting docker.service"
    systemctl start docker
  else
    say "starting dockerd in the background (log: $dockerd_log)"
    nohup dockerd >>"$dockerd_log" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    engine_answers && return 0
    sleep 0.5
  done
  tail -n 20 "$dockerd_log" >&2 2>/dev/null || true
  die "the Docker engine did not answer within 30 s after starting; see $dockerd_log"
}

stop_dockerd() {
  local pid
  pid=$(dockerd_pid) || true
  [ -n "$pid" ] || return 0
  kill "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  die "dockerd (pid $pid) did not stop within 30 s"
}

restart_dockerd() {
  if has_systemd; then
    systemctl restart docker
  else
    stop_dockerd
    start_dockerd
  fi
}

ensure_engine() {
  command -v docker >/dev/null || apt_install docker.io
  engine_answers && { say "Docker engine answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"; return 0; }
  if ! command -v dockerd >/dev/null; then
    apt_install docker.io
  fi
  is_root || die "the Docker engine is not running and starting it needs root. Fix: sudo systemctl start docker (or start Docker Desktop)"
  start_dockerd
}

# The bounding set of the running dockerd is what its containers can be given at most.
engine_lacks_sys_resource() {
  local pid capbnd
  pid=$(dockerd_pid) || true
  [ -n "$pid" ] && [ -r "/proc/$pid/status" ] || return 1
  capbnd=$(awk '/^CapBnd:/ {print $2}' "/proc/$pid/status")
  [ -n "$capbnd" ] && (( (16#$capbnd >> 24 & 1) == 0 ))
}

probe_image() {
  # A one-file image made from a static binary, so the probe needs no registry.
  docker image inspect kubelab/probe:1 >/dev/null 2>&1 && return 0
  local bb
  bb=$(command -v busybox || true)
  if [ -z "$bb" ] || ! file_is_static "$bb"; then
    apt_install busybox-static
    bb=/bin/busybox
  fi
  local dir; dir=$(mktemp -d)
  mkdir -p "$dir/bin"
  cp "$bb" "$dir/bin/busybox"
  ln -s busybox "$dir/bin/true"
  tar -C "$dir" -cf - . | docker import - kubelab/probe:1 >/dev/null
  rm -rf "$dir"
}

file_is_static() { ! ldd "$1" >/dev/null 2>&1; }

privileged_works() {
  docker run --rm --privileged kubelab/probe:1 /bin/true >/dev/null 2>"$cache/privileged-probe.err"
}

install_shim() {
  command -v go >/dev/null || die "this host needs kubelab's runc shim (no CAP_SYS_RESOURCE), and building it needs Go >= 1.22. Install Go, then run again."
  say "this host's capability bounding set lacks CAP_SYS_RESOURCE: installing kubelab's runc shim as Docker's default runtime"
  mkdir -p "$shim_dir"
  (cd "$repo/clusters/offline/shim" && CGO_ENABLED=0 go build -trimpath -o "$shim.new" .)
  mv "$shim.new" "$shim"
  python3 - "$shim_runtime" "$shim" <<'PY'
import json, os, sys
name, path = sys.argv[1], sys.argv[2]
conf = "/etc/docker/daemon.json"
data = {}
if os.path.exists(conf):
    with open(conf) as f:
        text = f.read().strip()
    data = json.loads(text) if text else {}
data.setdefault("runtimes", {})[name] = {"path": path}
data["default-runtime"] = name
os.makedirs(os.path.dirname(conf), exist_ok=True)
with open(conf + ".kubelab-new", "w") as f:
    json.dump(data, f, indent=2)
os.replace(conf + ".kubelab-new", conf)
PY
  say "registered runtime '$shim_runtime' in /etc/docker/daemon.json; restarting the engine"
  restart_dockerd
}

ensure_privileged() {
  probe_image
  if privileged_works; then
    say "privileged containers start"
    return 0
  fi
  if engine_lacks_sys_resource && grep -q "apply caps" "$cache/privileged-probe.err"; then
    is_root || die "privileged containers fail here and the fix (a runc shim) needs root"
    install_shim
    privileged_works || { cat "$cache/privileged-probe.err" >&2; die "privileged containers still fail with the shim installed"; }
    say "privileged containers start (through the shim)"
    return 0
  fi
  cat "$cache/privileged-probe.err" >&2
  die "'docker run --privileged' fails on this host, and not for a reason kubelab knows how to fix"
}

ensure_inotify() {
  # kind's known-issues page: below these, nodes run out of inotify instances or watches.
  local watches instances
  watches=$(sysctl -n fs.inotify.max_user_watches)
  instances=$(sysctl -n fs.inotify.max_user_instances)
  if (( watches >= 524288 && instances >= 512 )); then
    return 0
  fi
  if is_root; then
    say "raising inotify limits for kind (watches $watches -> 524288, instances $instances -> 512; until reboot)"
    sysctl -q -w fs.inotify.max_user_watches=$(( watches > 524288 ? watches : 524288 ))
    sysctl -q -w fs.inotify.max_user_instances=$(( instances > 512 ? instances : 512 ))
  else
    say "warning: inotify limits are low (watches $watches, instances $instances). Fix: sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512"
  fi
}

ensure_browser() {
  # The website's test (tests/test_site.py) drives Debian's Chromium through its chromedriver;
  # a small Japanese font keeps the learner's words readable in its screenshots.
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  fc-list :lang=ja 2>/dev/null | grep -q . || missing+=(fonts-ipafont-gothic)
  if (( ${#missing[@]} )); then
    apt_install "${missing[@]}"
  fi
  say "browser ready ($(chromium --version 2>/dev/null | head -n 1))"
}

if [ "${1:-}" = "--browser" ]; then
  ensure_browser
  exit 0
fi
ensure_engine
ensure_privileged
ensure_inotify
say "host ready"
