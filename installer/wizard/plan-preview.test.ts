/** After "Install?" the plan is not printed twice: only lines that were not in the preview. */
import { expect, it } from "vitest";
import { sincePreview } from "./plan-preview.ts";

const preview = ["Plan: 3 to create, 0 to update, 0 to delete.", "  + dir /etc/wirebot/credstore (0700 root:root)", "  + file /etc/wirebot/wirebot.yaml (0600 root:root)", "  + file /etc/systemd/system/wirebot-secrets.service (0644 root:root)"].join("\n");

it("says nothing new when the applied plan is the preview, or a part of it (the token's credstore made meanwhile)", () => {
  expect(sincePreview(preview, preview)).toBe("• applying the plan shown above");
  const lessOne = ["Plan: 2 to create, 0 to update, 0 to delete.", "  + file /etc/wirebot/wirebot.yaml (0600 root:root)", "  + file /etc/systemd/system/wirebot-secrets.service (0644 root:root)"].join("\n");
  expect(sincePreview(preview, lessOne)).toBe("• applying the plan shown above");
});

it("lists every line that is new since the preview", () => {
  const more = `${preview}\n  ~ file /etc/systemd/system/clawdbot-gateway.service (0644 root:root): content\n      + LoadCredential=bws-access-token:/etc/wirebot/credstore/bws-access-token`;
  expect(sincePreview(preview, more).split("\n")).toEqual([
    "• applying the plan shown above, and since it was shown:",
    "  ~ file /etc/systemd/system/clawdbot-gateway.service (0644 root:root): content",
    "      + LoadCredential=bws-access-token:/etc/wirebot/credstore/bws-access-token",
  ]);
});
