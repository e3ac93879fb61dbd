# Sourced by stage.sh and the deb/rpm builders, from the repository root: what package.json and git say about this build.
# Sets version, maintainer and epoch; $who names the calling script in messages.
version="$(node -p 'require("./package.json").version')"
maintainer="$(node -p 'require("./package.json").author || ""')"
[ -n "$maintainer" ] || { echo "$who: package.json has no \"author\" (the packages' maintainer)" >&2; exit 1; }
# Dates in the packages come from the commit, so two builds of one commit agree; outside git, from now.
epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
