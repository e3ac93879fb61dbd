#!/usr/bin/env bash
# Runs the end-to-end suite: installs what it needs from Debian, then boots a Debian 12 container and installs wirebot in it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "e2e: needs root (debootstrap, systemd-nspawn, nsenter)" >&2
  exit 77
fi

# Idempotent: apt touches the network only when a tool is missing, so a warm machine starts at once.
need=()
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v nsenter >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
# the cloudflared stand-in is compiled static (test/e2e/cloudflared-standin.c); the bare box has no interpreter
command -v gcc >/dev/null && [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(gcc libc6-dev)
# the .deb is built in the run unless WIREBOT_E2E_DEB names one
command -v dpkg-deb >/dev/null || need+=(dpkg)
if [ "${#need[@]}" -gt 0 ]; then
  echo "e2e: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cache="${WIREBOT_E2E_CACHE:-/var/cache/wirebot-e2e}"
# Whatever happens to the test runner (a crash, a SIGKILL'd worker), no container outlives this script.
reap() {
  local pidfile dir pid
  for pidfile in "$cache"/machines/*.pid; do
    [ -e "$pidfile" ] || continue
    dir="${pidfile%.pid}"
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "systemd-nspawn.*--directory=$dir"; then
      echo "e2e: reaping container $(basename "$dir") (nspawn pid $pid)" >&2
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f -- "$pidfile"
  done
  # Machine dirs whose process is gone: unmount the overlay first, so rm cannot walk into the cache.
  for dir in "$cache"/machines/*/; do
    [ -d "$dir" ] || continue
    dir="${dir%/}"
    grep -F " $dir/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system -- "$dir"
  done
}
trap reap EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
# Built (or found cached) apart from the tests, so its time shows on its own and a failed debootstrap reads as one.
node --import tsx test/e2e/rootfs.ts
npx vitest run --config vitest.e2e.config.ts "$@"
echo "e2e: done in $(( $(date +%s) - start )) s"
