# Shared body of the .deb's prerm (on remove) and the .rpm's %preun (on erase), inlined by their build.sh at their marker line.
# Refuses while a wirebot unit still runs something under /opt/wirebot: removing the package would leave it
# pointing at a missing program. `wirebot uninstall` deletes those units, so this passes right after it.
# Files, not systemd: it refuses the same with no systemd running (an image build). Read-only, so idempotent.
# DPKG_ROOT is dpkg's prefix under `dpkg --root --force-script-chrootless`, empty otherwise (rpm always chroots).
units_dir="${DPKG_ROOT:-}/etc/systemd/system"
in_use=""
for unit in "$units_dir"/wirebot-*.service "$units_dir"/wirebot-*.socket "$units_dir"/clawdbot-gateway*.service "$units_dir"/cloudflared-wirebot.service; do
  if [ -f "$unit" ] && grep -qs '/opt/wirebot/' "$unit"; then
    in_use="$in_use
  $unit"
  fi
done
if [ -n "$in_use" ]; then
  echo "wirebot: not removing the package: the appliance is installed, and these units run programs under /opt/wirebot:$in_use" >&2
  echo "Run \`sudo wirebot uninstall\` first (add --purge to delete data too), then remove the package." >&2
  exit 1
fi
