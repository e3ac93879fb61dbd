#!/bin/sh
# Runs the packaged CLI with the packaged Node, whatever `node` (if any) is on PATH. Installed as /opt/wirebot/bin/wirebot by both packages.
exec /opt/wirebot/node/bin/node /opt/wirebot/lib/bin/wirebot.js "$@"
