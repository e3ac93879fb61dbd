#!/bin/sh
# Writes wirebot(1) in roff to stdout from the staged CLI's own --help, so the man page never drifts from the code.
# Usage: manpage.sh <node> <wirebot.js> <version> <YYYY-MM-DD>
set -eu
node="$1" cli="$2" version="$3" date="$4"

# Help text is shown verbatim (.nf): escape backslashes, keep a leading . or ' from being a request, use \- for hyphens.
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" -e 's/-/\\-/g'; }
help() { COLUMNS=78 "$node" "$cli" "$@" --help; }

printf '.TH WIREBOT 1 "%s" "wirebot %s" "User Commands"\n' "$date" "$version"
printf '.SH NAME\nwirebot \\- install and run a hardened, multi-user OpenClaw gateway appliance under systemd\n'
printf '.SH SYNOPSIS\n.B wirebot\n.I command\n[\\fIoptions\\fR]\n'
# Captured first: a CLI that fails to print its help fails the build (sh has no pipefail).
main="$(help)"
printf '.SH DESCRIPTION\n.nf\n'
printf '%s\n' "$main" | roff
printf '.fi\n.SH COMMANDS\n'
# Every top-level command's own help, in the order --help lists them.
for cmd in $(printf '%s\n' "$main" | sed -n '/^Commands:/,$ s/^  \([a-z][a-z-]*\) .*/\1/p' | grep -vx help); do
  text="$(help "$cmd")"
  printf '.SS %s\n.nf\n' "$cmd"
  printf '%s\n' "$text" | roff
  printf '.fi\n'
done
printf '.SH FILES\n.TP\n.I /etc/wirebot/wirebot.yaml\nthe desired state; edit it, then run \\fBwirebot apply\\fR\n'
printf '.TP\n.I /opt/wirebot\nwirebot itself, with its own Node\n'
printf '.SH SEE ALSO\nThe documentation in \\fI/opt/wirebot/lib/docs/\\fR and \\fI/opt/wirebot/lib/README.md\\fR.\n'
