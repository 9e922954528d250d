// The README's first quick-start command ends in `node apps/gateway/demo/demo.mjs`; keep it working, with all
// six modules, and leaving nothing running: not after `--once`, not after a signal.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { suiteServers } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../../..");
const DEMO = resolve(import.meta.dirname, "../demo/demo.mjs");
/** The config the demo writes and runs the gateway with. */
const CONFIG = resolve(import.meta.dirname, "../../../.demo/gateway.yaml");

function startDemo(root: string, args: string[]): { child: ChildProcess; out: () => string; exit: Promise<{ code: number | null; signal: string | null }> } {
  const child = spawn(process.execPath, [DEMO, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, XMPPKIT_PROSODY_ROOT: root } });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exit = new Promise<{ code: number | null; signal: string | null }>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  return { child, out: () => out, exit };
}

/** Live processes the demo started: the gateway (the bin with the demo's config) and Prosody (its run directory, as printed). */
function leftovers(out: string): string[] {
  const gateway = `cli.js --config ${CONFIG}`;
  const prosodyDir = /\(log: (.*)\/prosody\.log\)/.exec(out)?.[1];
  expect(prosodyDir, out).toBeDefined();
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (/^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) continue; // exited, not reaped yet
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(gateway) || cmdline.includes(basename(prosodyDir!))) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/** A failed test must not leave the processes it found running either. */
function kill(found: string[]): void {
  for (const line of found) {
    try {
      process.kill(Number(line.split(":")[0]), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

// On each Prosody: the demo's harness takes the installation from XMPPKIT_PROSODY_ROOT.
describe.each(suiteServers(["prosody"]))("quick-start demo ($id)", ({ root }) => {
  it("starts Prosody and the gateway with all six modules, checks each as a user and a trusted service would, and stops both", async () => {
    const demo = startDemo(root, ["--once"]);
    const { code } = await demo.exit;
    const out = demo.out();
    const left = leftovers(out);
    kill(left);
    expect(code, out).toBe(0);
    expect(left, "processes the demo left running").toEqual([]);
    expect(out).toContain("XEP-0356 permissions granted");
    expect(out).toContain("connected to the server");
    expect(out).toContain('"modules":["http-roster-admin","track-muc-joins","ping-muc","report-forward","report-affiliations","audit-geoip"]');
    expect(out).toMatch(/alice's disco#info of gateway.localhost: component\/generic "xmppkit gateway"/);
    expect(out).toMatch(/alice pinged the gateway: \d+ ms/);
    expect(out).toContain('gateway answered 200 {"status":"ok","message":"roster update complete","updated":1,"errors":0}');
    expect(out).toContain(`alice's client got a roster push: bob@localhost "Bob" subscription=both groups=Demo`);
    expect(out).toMatch(/alice entered mods@conference.localhost: the gateway is there as "abuse-desk" \(owner, moderator\)/);
    expect(out).toMatch(/a moderation tool calls POST http:\/\/127.0.0.1:\d+\/reports: 202 \{"status":"accepted"/);
    expect(out).toContain(`alice read in mods@conference.localhost: "Spam report about spammer@elsewhere.example"`);
    // The sixth module: Prosody delegates urn:xmpp:raa:0 to the gateway, which answers the trusted service only.
    expect(out).toMatch(/"namespaces":\["urn:xmpp:raa:0"\].*"msg":"XEP-0355 namespaces delegated"/);
    expect(out).toContain(
      'rtbl.localhost, a block-list service the gateway trusts, asked about alice@localhost (XEP-0489): <info affiliation="registered" since="2024-11-22T00:00:00Z" trust="80"/> (the web app\'s record)',
    );
    expect(out).toContain("alice, who is not trusted, asked the same about bob@localhost: forbidden");
    expect(out).toMatch(
      /the audit log has \d+ events \(affiliation-queried, .*gateway-started.*http-request.*report-forwarded.*report-received.*roster-synced.*session-available.*\); read them at http:\/\/127.0.0.1:\d+\/audit\//,
    );
    expect(out).toContain("stopped (gateway exit code 0)");
    expect(out).not.toContain("link to the server lost");
    expect(out).not.toContain("did not delegate");
  });
});

// Signals: the same on every Prosody, so on the first one only.
describe.each(suiteServers(["prosody"]).slice(0, 1))("quick-start demo ($id), left running", ({ root }) => {
  it.each(["SIGHUP", "SIGTERM"])("%s stops the gateway and Prosody, and the demo exits 0", async (signal) => {
    const demo = startDemo(root, []);
    try {
      for (let i = 0; i < 600 && !demo.out().includes("running. Ctrl-C stops") && demo.child.exitCode === null; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(demo.out()).toContain("running. Ctrl-C stops");
      demo.child.kill(signal as NodeJS.Signals);
      const exit = await demo.exit;
      const left = leftovers(demo.out());
      kill(left);
      expect(exit, demo.out()).toEqual({ code: 0, signal: null });
      expect(left, "processes the demo left running").toEqual([]);
      expect(demo.out()).toContain("stopped (gateway exit code 0)");
    } finally {
      if (demo.child.exitCode === null) demo.child.kill("SIGKILL");
    }
  });
});

// `bash scripts/demo.sh` on a fresh machine: it installs what the demo runs, and no service of it runs or starts at boot.
describe("scripts/demo.sh", () => {
  it("installs only Prosody and prosody-modules (not the test world of setup.sh)", () => {
    const script = readFileSync(join(REPO, "scripts/demo.sh"), "utf8");
    const commands = script.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
    expect(commands.filter((l) => /install-debian-packages\.sh/.test(l))).toEqual(["bash scripts/install-debian-packages.sh prosody prosody-modules"]);
    expect(commands.join("\n")).not.toMatch(/setup\.sh|backports-servers|apt-get|ejabberd|postgres|chromium|systemctl (enable|start)/);
  });

  // The install with apt-get, dpkg and the service tools stubbed: what it asks apt for, what it disables afterwards.
  it("installs the missing packages with every service start refused, then disables the services of each package it installed", () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppkit-demo-install-"));
    try {
      const log = join(dir, "calls.log");
      const policy = join(dir, "policy-rc.d");
      const stub = (name: string, body: string) => {
        writeFileSync(join(dir, name), `#!/bin/bash\n${body}\n`);
        chmodSync(join(dir, name), 0o755);
      };
      stub("id", "echo 0");
      stub(
        "dpkg",
        `case "$1" in
  -s) [ -e "${dir}/installed" ] ;; # neither prosody nor prosody-modules is installed until apt-get ran
  -L) [ "$2" = prosody ] && printf '%s\\n' /etc/prosody/prosody.cfg.lua /lib/systemd/system/prosody.service /etc/init.d/prosody
      [ "$2" = lua-expat ] && echo /usr/lib/x86_64-linux-gnu/liblua5.4-lxp.so.0
      [ "$2" = already ] && echo /lib/systemd/system/already.service; exit 0 ;;
esac`,
      );
      stub("dpkg-query", `echo "ii  already"; [ -e "${dir}/installed" ] && printf 'ii  prosody\\nii  prosody-modules\\nii  lua-expat\\n'; true`);
      stub(
        "apt-get",
        `echo "apt-get $*" >>"${log}"
if [ "$1" = install ]; then "${policy}" prosody start; echo "policy-rc.d: $?" >>"${log}"; touch "${dir}/installed"; fi`,
      );
      stub("deb-systemd-helper", `echo "deb-systemd-helper $*" >>"${log}"`);
      stub("update-rc.d", `echo "update-rc.d $*" >>"${log}"`);
      const run = () =>
        spawnSync("bash", [join(REPO, "scripts/install-debian-packages.sh"), "prosody", "prosody-modules"], {
          encoding: "utf8",
          env: { PATH: `${dir}:${process.env.PATH}`, XMPPKIT_POLICY_RC_D: policy },
        });
      const first = run();
      expect(first.status, first.stderr).toBe(0);
      expect(readFileSync(log, "utf8").trim().split("\n")).toEqual([
        "apt-get update -qq",
        "apt-get install -y -qq prosody prosody-modules",
        "policy-rc.d: 101",
        "deb-systemd-helper disable prosody.service",
        "update-rc.d prosody disable",
      ]);
      expect(existsSync(policy), "policy-rc.d removed after the install").toBe(false);
      // Installed now: nothing to do, nothing called, no root needed.
      rmSync(log);
      stub("id", "echo 1000");
      const again = run();
      expect([again.status, again.stdout, again.stderr, existsSync(log)]).toEqual([0, "", "", false]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
