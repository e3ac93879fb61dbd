#!/usr/bin/env bash
# Builds dist/pkg/wirebot-<version>-1.x86_64.rpm with rpmbuild from the staged tree (packaging/stage.sh): the same files as the .deb.
# Usage: packaging/rpm/build.sh [STAGED]   (STAGED: a tree stage.sh made, reused as is; without it, one is staged here)
set -euo pipefail
trap 'echo "rpm/build.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/packaging/rpm"
out="$repo/dist/pkg"
cd "$repo"
command -v rpmbuild >/dev/null || { echo "rpm/build.sh: rpmbuild is missing (Debian: apt-get install rpm)" >&2; exit 1; }

who=rpm/build.sh
. "$repo/packaging/meta.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/wirebot-rpm.XXXXXX")"
trap 'rm -rf "$work"' EXIT
staged="${1:-}"
if [ -n "$staged" ]; then
  [ -d "$staged/opt/wirebot" ] || { echo "rpm/build.sh: $staged is not a tree packaging/stage.sh made" >&2; exit 1; }
  staged="$(cd "$staged" && pwd)"
else
  staged="$work/staged"
  bash "$repo/packaging/stage.sh" "$staged"
fi
node_version="$("$staged/opt/wirebot/node/bin/node" --version | sed 's/^v//')"

# The refusal on erase is the .deb's (packaging/refuse-while-installed.sh), inlined where the spec marks it.
sed -e "s/@VERSION@/$version/g" -e "s/@NODE_VERSION@/$node_version/g" -e "s/@MAINTAINER@/$maintainer/g" \
  -e "s/@CHANGELOG_DATE@/$(LC_ALL=C date -u -d "@$epoch" '+%a %b %d %Y')/" \
  -e "/^@REFUSE_WHILE_INSTALLED@\$/{r $repo/packaging/refuse-while-installed.sh" -e 'd}' \
  "$here/wirebot.spec.in" > "$work/wirebot.spec"
if grep -n '@[A-Z_]*@' "$work/wirebot.spec" >&2; then echo "rpm/build.sh: unfilled fields in the spec" >&2; exit 1; fi

mkdir -p "$out"
# SOURCE_DATE_EPOCH: file and build times from the commit, as in the .deb.
SOURCE_DATE_EPOCH="$epoch" rpmbuild -bb --quiet --target x86_64 \
  --define "_topdir $work/top" --define "staged $staged" --define "_rpmdir $work/rpms" \
  --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" --define "_buildhost wirebot-build" \
  "$work/wirebot.spec" >"$work/rpmbuild.log" 2>&1 \
  || { tail -40 "$work/rpmbuild.log" >&2; echo "rpm/build.sh: rpmbuild failed" >&2; exit 1; }
rpm_file="$out/wirebot-${version}-1.x86_64.rpm"
mv -f "$work/rpms/x86_64/wirebot-${version}-1.x86_64.rpm" "$rpm_file"
echo "• built $rpm_file ($(du -h "$rpm_file" | cut -f1))"
