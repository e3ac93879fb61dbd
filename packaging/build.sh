#!/usr/bin/env bash
# Stages the tree once (packaging/stage.sh) and builds each package named from it: `packaging/build.sh deb rpm` gives both for one compile.
set -euo pipefail
trap 'echo "build.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -gt 0 ] || set -- deb rpm
for kind in "$@"; do
  case "$kind" in deb|rpm) ;; *) echo "usage: packaging/build.sh [deb] [rpm]" >&2; exit 64 ;; esac
done
work="$(mktemp -d "${TMPDIR:-/tmp}/wirebot-pkg.XXXXXX")"
trap 'rm -rf "$work"' EXIT
bash "$repo/packaging/stage.sh" "$work/staged"
for kind in "$@"; do bash "$repo/packaging/$kind/build.sh" "$work/staged"; done
