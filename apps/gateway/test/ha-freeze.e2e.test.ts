// End-to-end: an active/standby pair (the CLI, as deployed) under a supervisor that speaks systemd's notify
// protocol with a watchdog (Type=notify, WatchdogSec=3), against a real Prosody and a real PostgreSQL. A
// holder that is frozen (SIGSTOP) keeps its PostgreSQL session and its XMPP stream open, so nothing else
// frees the lease: its watchdog pings stop, the supervisor kills it (SIGABRT, which a stopped process keeps
// pending, then SIGKILL), the kernel closes its connections, and the standby takes over. A healthy pair
// keeps pinging and is never fenced.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  startPostgres,
  startProsody,
  superviseWithWatchdog,
  type Postgres,
  type Prosody,
  suiteServers,
  type WatchdogSupervisor,
} from "@xmppkit/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { componentLinks, health, healthy, standby, until } from "./cli-process.js";
import { BIN, gatewayYaml } from "./helpers.js";

/** WatchdogSec= of the test pair (the shipped unit has 10 s): pings every 1.5 s. */
const WATCHDOG_MS = 3000;

interface Proc {
  sup: WatchdogSupervisor;
  port: number;
  out(): string;
}

const children: Proc[] = [];

async function startSupervised(config: string, env: NodeJS.ProcessEnv): Promise<Proc> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-ha-freeze-"));
  const path = join(dir, "gateway.yaml");
  writeFileSync(path, config.replace("listen: 127.0.0.1:0", `listen: 127.0.0.1:${port}`));
  const sup = await superviseWithWatchdog({
    command: process.execPath,
    args: [BIN, "--config", path],
    env: { PATH: process.env.PATH, ...env },
    watchdogMs: WATCHDOG_MS,
    abortTimeoutMs: 1000,
  });
  let out = "";
  sup.child.stdout!.on("data", (d) => (out += d));
  sup.child.stderr!.on("data", (d) => (out += d));
  const proc = { sup, port, out: () => out };
  children.push(proc);
  return proc;
}

/** The notifications other than the pings. */
const said = (p: Proc) => p.sup.notifications.filter((n) => n !== "WATCHDOG=1");

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("a frozen holder under a systemd-like watchdog", () => {
    let prosody: Prosody;
    let pg: Postgres;
    let config: string;
    const env = () => ({ GATEWAY_SECRET: prosody.component.secret });

    beforeAll(async () => {
      prosody = await startProsody({ root, logLevel: "info" });
      pg = await startPostgres();
      const db = await pg.createDatabase("ha_freeze");
      config = gatewayYaml(prosody, `storage:\n  postgres: ${db}\nha:\n  enabled: true\n  poll_interval: 0.5\nlog:\n  level: info\n  format: json\n`).replace(
        /log:\n {2}level: debug\n/,
        "",
      );
    });
    afterEach(async () => {
      for (const p of children.splice(0)) await p.sup.stop("SIGKILL"); // SIGKILL ends a stopped process too
    });
    afterAll(async () => {
      await prosody?.stop();
      await pg?.stop();
    });

    /** A holding A and a standby B, both supervised and READY=1. */
    async function pair(): Promise<{ a: Proc; b: Proc }> {
      const a = await startSupervised(config, env());
      await a.sup.ready;
      await healthy(a);
      const b = await startSupervised(config, env());
      await b.sup.ready;
      await standby(b);
      return { a, b };
    }

    it("a healthy pair keeps pinging and is never fenced; SIGTERM says STOPPING=1 and hands over", async () => {
      const before = componentLinks(prosody);
      const { a, b } = await pair();
      // More pings than fit in one watchdog interval, counted from now: had they stopped, the watchdog fires.
      const [pa, pb] = [a.sup.pings, b.sup.pings];
      await until(
        "4 more pings from each",
        async () => {
          for (const [name, p] of [
            ["A", a],
            ["B", b],
          ] as const)
            if (p.sup.fencedWith) throw new Error(`${name} was fenced: ${JSON.stringify(p.sup.fencedWith)}`);
          return a.sup.pings >= pa + 4 && b.sup.pings >= pb + 4 ? true : undefined;
        },
        30_000,
      );
      expect(a.sup.fencedWith).toBeUndefined();
      expect(b.sup.fencedWith).toBeUndefined();
      expect((await health(a)).status).toBe(200);
      expect((await health(b)).body.status).toBe("standby");
      expect(componentLinks(prosody) - before).toBe(1);
      const domain = prosody.component.domain;
      expect(said(a)).toEqual([
        "READY=1\nSTATUS=starting: waiting for the store, the lease and the link",
        `STATUS=holding the link to ${prosody.component.service} as ${domain}`,
      ]);
      expect(said(b)).toEqual(["READY=1\nSTATUS=starting: waiting for the store, the lease and the link"]); // a standby is "started" at once

      a.sup.child.kill("SIGTERM");
      expect(await a.sup.exited).toEqual({ code: 0, signal: null });
      expect(said(a).at(-1)).toBe("STOPPING=1\nSTATUS=stopping (SIGTERM)");
      expect(a.sup.fencedWith).toBeUndefined();
      await healthy(b, 10_000);
      await until(
        "B's status",
        async () => (said(b).includes(`STATUS=holding the link to ${prosody.component.service} as ${domain}`) ? true : undefined),
        5000,
      );
    }, 60_000);

    it("SIGSTOP of the holder: the watchdog kills it and the standby holds the link within 30 s, one new link", async () => {
      const { a, b } = await pair();
      const before = componentLinks(prosody);
      await until("a ping from A", async () => (a.sup.pings > 0 ? true : undefined), 10_000); // its watchdog runs
      process.kill(a.sup.child.pid!, "SIGSTOP"); // A only: its pid, not its group
      const stoppedAt = Date.now();
      await healthy(b, 30_000);
      const takeoverMs = Date.now() - stoppedAt;
      // Resolved by now, or just about (B could take over only once A was dead).
      const fenced = await Promise.race([a.sup.fenced, until<never>("A fenced", async () => undefined, 5000)]);
      console.log(
        `[ha-freeze] SIGSTOP → watchdog fired ${fenced.firedAt - stoppedAt} ms, A dead (${fenced.signal}) ${fenced.at - stoppedAt} ms, B /healthz 200 ${takeoverMs} ms`,
      );
      expect(takeoverMs).toBeLessThan(30_000);
      // The watchdog fired after the last ping + WatchdogSec, i.e. at most WATCHDOG_MS after the SIGSTOP.
      expect(fenced.firedAt - stoppedAt).toBeLessThanOrEqual(WATCHDOG_MS + 500);
      // A stopped process keeps SIGABRT pending: the SIGKILL after abortTimeoutMs is what ended it.
      expect(fenced.signal).toBe("SIGKILL");
      expect(b.sup.fencedWith).toBeUndefined();
      await until("the takeover in B's log", async () => (b.out().includes("took over: this instance holds the lease now") ? true : undefined), 5000);
      expect(componentLinks(prosody) - before).toBe(1);
      expect(b.out()).not.toContain("lost the lease");
    }, 60_000);
  });
});
