#!/bin/sh
# Runs the packaged CLI with the packaged Node, whatever `node` (if any) is on PATH.
exec /opt/wirebot/node/bin/node /opt/wirebot/lib/bin/wirebot.js "$@"
