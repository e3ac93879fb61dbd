#!/usr/bin/env bash
# Run first by `npm test`: says what is missing for the suites, and which script installs it, before any test starts.
set -uo pipefail

missing=()
[ "$(id -u)" = 0 ] || missing+=("root (the slow suite keeps data dirs under /var/lib/wirebot-test and runs podman as root)")
for c in systemd-analyze chromium tmux podman runc newuidmap flock; do command -v "$c" >/dev/null || missing+=("$c"); done
[ -x /usr/bin/catatonit ] || missing+=("catatonit")
for c in rpmbuild rpm lintian dpkg-shlibdeps man objdump; do command -v "$c" >/dev/null || missing+=("$c (the packaging tests)"); done
command -v script >/dev/null || missing+=("script (bsdutils; the rbw stand-in's editor test)")
if command -v podman >/dev/null && ! env -u CONTAINER_HOST -u CONTAINER_CONNECTION podman image exists localhost/wirebot-sandbox:bookworm 2>/dev/null; then
  missing+=("the sandbox image localhost/wirebot-sandbox:bookworm")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "npm test: missing on this machine:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  echo "install them with: sudo bash scripts/test-prereqs.sh   (Debian 12; then run npm test as root)" >&2
  exit 1
fi
