#!/usr/bin/env bash
# Installs what the test suites need beyond npm on Debian 12 (as root): Debian packages, then the sandbox image. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
  echo "test-prereqs: run as root (apt-get, debootstrap, podman's image store): sudo bash scripts/test-prereqs.sh" >&2
  exit 77
fi

need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v chromium >/dev/null || need+=(chromium)   # the Control UI test drives it with playwright-core
command -v tmux >/dev/null || need+=(tmux)           # the wizard's pty test
# trust: sandboxed runs tools in rootless podman (docs/trust.md); the sandbox slow tests need all four.
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/bin/catatonit ] || need+=(catatonit)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v flock >/dev/null || need+=(util-linux)    # the apply lock
command -v rpmbuild >/dev/null || need+=(rpm)        # the .rpm: built with rpmbuild, checked with rpm (test/packaging/rpm.slow.test.ts)
command -v lintian >/dev/null || need+=(lintian)     # the .deb's lintian check (brings man-db for the man page check)
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)   # the .deb's library floors, derived from its ELF files
command -v objdump >/dev/null || need+=(binutils)  # the packages' glibc floors (objdump -T)
command -v script >/dev/null || need+=(bsdutils)     # the rbw stand-in's editor test runs rbw in a pty
if [ ${#need[@]} -gt 0 ]; then
  echo "test-prereqs: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The sandbox image, offline from a debootstrap rootfs (about 90 s once, then cached).
bash scripts/sandbox-image.sh
