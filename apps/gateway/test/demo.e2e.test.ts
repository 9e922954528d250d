// The README's first quick-start command ends in `node apps/gateway/demo/demo.mjs`; keep it working.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { suiteServers } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";

// On each Prosody: the demo's harness takes the installation from XMPPKIT_PROSODY_ROOT.
describe.each(suiteServers(["prosody"]))("quick-start demo ($id)", ({ root }) => {
  it("starts Prosody and the gateway, checks it as a user, syncs a roster from the web app, and stops both", async () => {
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "../demo/demo.mjs"), "--once"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, XMPPKIT_PROSODY_ROOT: root },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const code = await new Promise((r) => child.on("exit", r));
    expect(code, out).toBe(0);
    expect(out).toContain("XEP-0356 permissions granted");
    expect(out).toContain("connected to the server");
    expect(out).toMatch(/alice's disco#info of gateway.localhost: component\/generic "xmppkit gateway"/);
    expect(out).toMatch(/alice pinged the gateway: \d+ ms/);
    expect(out).toContain('gateway answered 200 {"status":"ok","message":"roster update complete","updated":1,"errors":0}');
    expect(out).toContain(`alice's client got a roster push: bob@localhost "Bob" subscription=both groups=Demo`);
    expect(out).toMatch(/alice entered mods@conference.localhost: the gateway is there as "abuse-desk" \(owner, moderator\)/);
    expect(out).toMatch(/a moderation tool calls POST http:\/\/127.0.0.1:\d+\/reports: 202 \{"status":"accepted"/);
    expect(out).toContain(`alice read in mods@conference.localhost: "Spam report about spammer@elsewhere.example"`);
    expect(out).toMatch(
      /the audit log has \d+ events \(.*gateway-started.*http-request.*report-forwarded.*report-received.*roster-synced.*session-available.*\); read them at http:\/\/127.0.0.1:\d+\/audit\//,
    );
    expect(out).toContain("stopped (gateway exit code 0)");
    expect(out).not.toContain("link to the server lost");
  });
});
