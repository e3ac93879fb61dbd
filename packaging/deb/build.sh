#!/usr/bin/env bash
# Builds dist/pkg/wirebot_<version>_amd64.deb from the staged tree (packaging/stage.sh) plus the Debian metadata.
# Usage: packaging/deb/build.sh [STAGED]   (STAGED: a tree stage.sh made, reused as is; without it, one is staged here)
set -euo pipefail
trap 'echo "deb/build.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/packaging/deb"
out="$repo/dist/pkg"
cd "$repo"

who=deb/build.sh
. "$repo/packaging/meta.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/wirebot-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
if [ -n "${1:-}" ]; then
  [ -d "$1/opt/wirebot" ] || { echo "deb/build.sh: $1 is not a tree packaging/stage.sh made" >&2; exit 1; }
  mkdir -p "$root" && cp -a "$1/." "$root/"
else
  bash "$repo/packaging/stage.sh" "$root"
fi
node_version="$("$root/opt/wirebot/node/bin/node" --version | sed 's/^v//')"
mkdir -p "$root/DEBIAN" "$root/usr/share/lintian/overrides" "$out"

doc="$root/usr/share/doc/wirebot"
printf 'wirebot (%s) unstable; urgency=medium\n\n  * Built by npm run package:deb; see the project history for changes.\n\n -- %s  %s\n' \
  "$version" "$maintainer" "$(date -R -d "@$epoch")" | gzip -9n > "$doc/changelog.gz"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/wirebot"

installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@NODE_VERSION@/$node_version/" -e "s/@INSTALLED_SIZE@/$installed_kb/" -e "s/@MAINTAINER@/$maintainer/" \
  "$here/control.in" > "$root/DEBIAN/control"
install -m 0755 "$here/postinst" "$root/DEBIAN/postinst"
# One refusal for both packages: packaging/refuse-while-installed.sh, inlined where the prerm marks it.
sed -e "/^@REFUSE_WHILE_INSTALLED@\$/{r $repo/packaging/refuse-while-installed.sh" -e 'd}' "$here/prerm" > "$root/DEBIAN/prerm"
chmod 0755 "$root/DEBIAN/prerm"
chmod 0644 "$root/DEBIAN/control" "$doc/changelog.gz" "$root/usr/share/lintian/overrides/wirebot"
chmod 0755 "$root/DEBIAN" "$root/usr/share/lintian" "$root/usr/share/lintian/overrides"

deb="$out/wirebot_${version}_amd64.deb"
rm -f "$deb"
# SOURCE_DATE_EPOCH: dpkg-deb clamps file times to the commit, as the .rpm does.
SOURCE_DATE_EPOCH="$epoch" dpkg-deb --build --root-owner-group -Zxz "$root" "$deb" >/dev/null
echo "• built $deb ($(du -h "$deb" | cut -f1))"
