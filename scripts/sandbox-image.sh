#!/usr/bin/env bash
# Builds the sandbox image for `trust: sandboxed` agents from a debootstrap rootfs (no registry needed); idempotent.
#
#   scripts/sandbox-image.sh [IMAGE]        default IMAGE: localhost/wirebot-sandbox:bookworm
#
# The image goes into the store of whatever podman this script reaches: the local one, or the
# sandbox service's when CONTAINER_HOST=unix:///run/wirebot-sandbox/podman.sock is set (as root), which
# is where the gateway looks for it (docs/trust.md, "Sandbox image"). A second run with the same recipe
# does nothing; a changed recipe (packages, mirror) rebuilds the rootfs and re-imports.
#
# Environment: WIREBOT_SANDBOX_CACHE (rootfs cache, default /var/cache/wirebot-sandbox),
# WIREBOT_SANDBOX_MIRROR (Debian mirror, default http://deb.debian.org/debian).
set -euo pipefail

IMAGE="${1:-localhost/wirebot-sandbox:bookworm}"
CACHE="${WIREBOT_SANDBOX_CACHE:-/var/cache/wirebot-sandbox}"
MIRROR="${WIREBOT_SANDBOX_MIRROR:-http://deb.debian.org/debian}"
# openclaw's sandbox file tools (write, edit, apply_patch) run python3 inside the container.
PACKAGES="python3"
# What debootstrap made (the cached rootfs), and on top of it the image's own files (bump CUSTOM when
# customise() changes): an image carrying another stamp is rebuilt rather than trusted.
ROOTFS_STAMP="suite=bookworm variant=minbase mirror=${MIRROR} packages=${PACKAGES}"
CUSTOM=2
STAMP="custom=${CUSTOM} ${ROOTFS_STAMP}"
LABEL="org.wirebot.sandbox.stamp"
ROOTFS="${CACHE}/rootfs-bookworm"

die() { echo "sandbox-image: $*" >&2; exit 1; }
command -v podman >/dev/null || die "podman is not installed: apt-get install podman runc catatonit uidmap"

current="$(podman image inspect --format "{{index .Labels \"${LABEL}\"}}" "${IMAGE}" 2>/dev/null || true)"
previous="$(podman image inspect --format '{{.Id}}' "${IMAGE}" 2>/dev/null || true)"
if [ "${current}" = "${STAMP}" ]; then
  echo "sandbox-image: ${IMAGE} is up to date (${STAMP})"
  exit 0
fi

if [ ! -f "${ROOTFS}/.wirebot-sandbox-stamp" ] || [ "$(cat "${ROOTFS}/.wirebot-sandbox-stamp")" != "${ROOTFS_STAMP}" ]; then
  command -v debootstrap >/dev/null || die "debootstrap is not installed: apt-get install debootstrap"
  [ "$(id -u)" = 0 ] || die "building the rootfs needs root (debootstrap)"
  mkdir -p "${CACHE}"
  # Leftovers of a build that died never carry a stamp: the rename below is the commit.
  rm -rf "${CACHE}"/rootfs-bookworm.tmp-* "${CACHE}"/rootfs-bookworm.old-*
  tmp="${CACHE}/rootfs-bookworm.tmp-$$"
  trap 'rm -rf "${tmp}"' EXIT
  echo "sandbox-image: debootstrap bookworm (minbase + ${PACKAGES}) into ${tmp}"
  debootstrap --variant=minbase --include="${PACKAGES// /,}" bookworm "${tmp}" "${MIRROR}" >"${CACHE}/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see ${CACHE}/debootstrap.log"
  chroot "${tmp}" apt-get clean
  rm -rf "${tmp}/var/lib/apt/lists" "${tmp}/var/cache/apt/"*.bin
  mkdir -p "${tmp}/var/lib/apt/lists/partial" "${tmp}/workspace"
  printf '%s' "${ROOTFS_STAMP}" >"${tmp}/.wirebot-sandbox-stamp"
  if [ -e "${ROOTFS}" ]; then mv "${ROOTFS}" "${CACHE}/rootfs-bookworm.old-$$"; fi
  mv "${tmp}" "${ROOTFS}"
  rm -rf "${CACHE}/rootfs-bookworm.old-$$"
  trap - EXIT
fi

# The image's own files, rewritten on every import (cheap, and a changed CUSTOM takes effect without debootstrap).
# A fact only the image has, so tests and operators can tell a command ran inside the sandbox:
printf 'wirebot-sandbox bookworm %s\n' "${STAMP}" >"${ROOTFS}/etc/wirebot-sandbox-release"
echo "wirebot-sandbox" >"${ROOTFS}/etc/hostname"
# The gateway and the sandbox are two users sharing the workspace through its group (docs/trust.md):
# what an exec creates stays group-writable.
printf 'umask 0007\n' >"${ROOTFS}/etc/profile.d/wirebot-umask.sh"

echo "sandbox-image: importing ${ROOTFS} as ${IMAGE}"
tar --exclude=./.wirebot-sandbox-stamp -C "${ROOTFS}" -c . \
  | podman import --change "LABEL ${LABEL}=\"${STAMP}\"" --change 'CMD ["sleep", "infinity"]' --change 'WORKDIR /workspace' - "${IMAGE}" >/dev/null
[ "$(podman image inspect --format "{{index .Labels \"${LABEL}\"}}" "${IMAGE}")" = "${STAMP}" ] || die "import finished but ${IMAGE} does not carry ${LABEL}"
# The image this one replaces is left untagged: remove it unless a container still uses it.
if [ -n "${previous}" ]; then podman rmi "${previous}" >/dev/null 2>&1 || true; fi
echo "sandbox-image: ${IMAGE} ready"
