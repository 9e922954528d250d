// End-to-end: two gateway processes (the CLI, as deployed) with one PostgreSQL store and `ha.enabled`,
// against a real Prosody and a real PostgreSQL. One holds the lease and the component link; the other is a
// standby that says so in /healthz and /metrics and never connects. kill -9 of the holder: the standby is
// online within the bound; SIGTERM: it takes over without waiting. Two processes on one SQLite file: the
// second refuses to start.
import { mkdtempSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Element } from "@xmppkit/core";
import { openPostgresStore } from "@xmppkit/runtime";
import { loginClient, startPostgres, startProsody, type Postgres, type Prosody, suiteServers } from "@xmppkit/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { killChildren, componentLinks, health, healthy, leasePolls, type Proc, standby, startCli, until } from "./cli-process.js";
import { gatewayYaml, runCli } from "./helpers.js";

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("active/standby with one PostgreSQL, against a real Prosody", () => {
    let prosody: Prosody;
    let pg: Postgres;
    let config: string;
    const env = () => ({ GATEWAY_SECRET: prosody.component.secret });

    beforeAll(async () => {
      prosody = await startProsody({ root, logLevel: "info", users: { alice: "alicepw", mod: "modpw" } });
      pg = await startPostgres();
      const db = await pg.createDatabase("ha");
      config = gatewayYaml(prosody, `storage:\n  postgres: ${db}\nha:\n  enabled: true\n  poll_interval: 0.5\nlog:\n  level: info\n  format: json\n`).replace(
        /log:\n {2}level: debug\n/,
        "",
      );
    });
    afterEach(async () => {
      await killChildren();
    });
    afterAll(async () => {
      await prosody?.stop();
      await pg?.stop();
    });

    it("one holds the link; the other is a standby (healthz 503 standby, metrics 0) that never connects", async () => {
      const before = componentLinks(prosody);
      const a = await startCli(config, env());
      await healthy(a);
      const b = await startCli(config, env());
      await standby(b);
      const h = await health(b);
      expect(h).toMatchObject({ status: 503, body: { status: "standby", reason: `standby: another instance holds ${prosody.component.domain}` } });
      const metrics = await (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text();
      expect(metrics).toMatch(/^xmppkit_gateway_ha_active 0$/m);
      // The standby must stay off the server for several of its polls (poll_interval 0.5 s): count them by
      // its lease queries seen in PostgreSQL, rather than by a guessed wall-clock time.
      await leasePolls(pg.url, b, 3);
      expect(componentLinks(prosody) - before).toBe(1);
      expect(b.out()).toContain("waiting for the lease");
      expect(b.out()).not.toContain("connected to the server");
      b.child.kill("SIGTERM"); // a standby stops cleanly too
      expect(await b.exited).toBe(0);
    });

    it("kill -9 of the holder: the standby holds the link within seconds, and says it took over", async () => {
      const a = await startCli(config, env());
      await healthy(a);
      const b = await startCli(config, env());
      await standby(b);
      const killed = Date.now();
      a.child.kill("SIGKILL");
      await healthy(b, 10_000);
      const takeoverMs = Date.now() - killed;
      expect(takeoverMs).toBeLessThan(10_000);
      await until("the takeover in the log", async () => (b.out().includes("took over: this instance holds the lease now") ? true : undefined), 5000);
    });

    it("SIGTERM of the holder hands over at once, without waiting for anything to expire", async () => {
      const a = await startCli(config, env());
      await healthy(a);
      const b = await startCli(config, env());
      await standby(b);
      a.child.kill("SIGTERM");
      expect(await a.exited).toBe(0);
      const stopped = Date.now();
      await healthy(b, 5000);
      expect(Date.now() - stopped).toBeLessThan(3000);
    });

    it("a holder whose lease session ends (PostgreSQL dropped it) closes its link at once and waits as a standby; the standby takes over", async () => {
      const a = await startCli(config, env());
      await healthy(a);
      const b = await startCli(config, env());
      await standby(b);
      const before = componentLinks(prosody);
      // What a partition looks like from PostgreSQL's side, at once: the holder's lease session is gone.
      const admin = await openPostgresStore(pg.url);
      const killed = await admin.query<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'xmppkit-gateway lease ' || $1`,
        [`${hostname()}:${a.child.pid}`],
      );
      await admin.close();
      expect(killed).toEqual([{ ok: true }]);
      await until(
        "the loss in the log",
        async () => (a.out().includes("lost the lease: closing the link so that another instance can take over; waiting as a standby") ? true : undefined),
        5000,
      );
      await healthy(b, 10_000);
      await standby(a); // still running: a standby behind the new holder
      expect(a.child.exitCode).toBeNull();
      expect(componentLinks(prosody) - before).toBe(1);
      // And it takes the link back when the new holder goes.
      b.child.kill("SIGTERM");
      expect(await b.exited).toBe(0);
      await healthy(a, 10_000);
      expect(componentLinks(prosody) - before).toBe(2);
    });

    it("reports accepted by a holder killed mid-flow are all delivered by the standby (once each, by id)", async () => {
      const token = "ha-e2e-token-0123456789abcdef";
      const withReports =
        `${config}modules_enabled: [report-forward]\nreport-forward:\n  report_forward_to_staff: [mod@${prosody.domain}]\n  report_forward_reported_limit: 0\n  report_forward_digest_after: 0\n`.replace(
          "listen: 127.0.0.1:0",
          `listen: 127.0.0.1:0\n  token: ${token}`,
        );
      const staff = await loginClient(prosody, "mod", { password: "modpw" });
      const got = new Map<string, number>();
      staff.xmpp.on("stanza", (el: Element) => {
        if (el.name !== "message" || el.attrs.type === "error" || !el.getChild("report", "urn:xmpp:reporting:1")) return;
        const id = String(el.attrs.id).split(".")[0]!;
        got.set(id, (got.get(id) ?? 0) + 1);
      });
      try {
        const a = await startCli(withReports, env());
        await healthy(a);
        const b = await startCli(withReports, env());
        await standby(b);
        const accepted: string[] = [];
        const post = async (p: Proc, i: number) => {
          const res = await fetch(`http://127.0.0.1:${p.port}/reports`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ jid: `spammer${i}@spam.example`, reason: "spam", text: `report ${i}` }),
          }).catch(() => undefined);
          if (res?.status === 202) accepted.push(((await res.json()) as { id: string }).id);
          return res?.status;
        };
        let i = 0;
        while (accepted.length < 30) await post(a, i++);
        // Many posts at once, and the holder dies while they are being answered and delivered: killed as soon
        // as the first of them is answered (not after a guessed delay), so the rest are still in flight.
        const burst = Promise.all(
          Array.from({ length: 30 }, () =>
            post(a, i++).then((status) => {
              if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill("SIGKILL");
              return status;
            }),
          ),
        );
        await burst;
        a.child.kill("SIGKILL"); // in case no post of the burst was answered
        await healthy(b, 10_000);
        for (let k = 0; k < 20; k++) expect(await post(b, i++)).toBe(202);
        await until("every accepted report at the staff", async () => (accepted.every((id) => got.has(id)) ? true : undefined), 15_000);
        expect(accepted.filter((id) => !got.has(id))).toEqual([]);
        expect(accepted.length).toBeGreaterThanOrEqual(50);
      } finally {
        await staff.stop();
      }
    });

    it("20 reports POSTed to the standby get 202 and reach staff within 10 s (the holder hears of them through LISTEN/NOTIFY)", async () => {
      const token = "ha-e2e-token-0123456789abcdef";
      const withReports =
        `${config}modules_enabled: [report-forward]\nreport-forward:\n  report_forward_to_staff: [mod@${prosody.domain}]\n  report_forward_digest_after: 0\n`.replace(
          "listen: 127.0.0.1:0",
          `listen: 127.0.0.1:0\n  token: ${token}`,
        );
      const staff = await loginClient(prosody, "mod", { password: "modpw" });
      const got = new Map<string, number>();
      staff.xmpp.on("stanza", (el: Element) => {
        if (el.name === "message" && el.attrs.type !== "error" && el.getChild("report", "urn:xmpp:reporting:1"))
          got.set(String(el.attrs.id).split(".")[0]!, Date.now());
      });
      try {
        const a = await startCli(withReports, env());
        await healthy(a);
        const b = await startCli(withReports, env());
        await standby(b);
        const accepted = new Map<string, number>();
        for (let i = 0; i < 20; i++) {
          const res = await fetch(`http://127.0.0.1:${b.port}/reports`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ jid: `to-standby${i}@spam.example`, reason: "spam", text: `report ${i}` }),
          });
          expect(res.status).toBe(202);
          accepted.set(((await res.json()) as { id: string }).id, Date.now());
        }
        await until("all 20 at the staff", async () => ([...accepted.keys()].every((id) => got.has(id)) ? true : undefined), 15_000);
        const latencies = [...accepted].map(([id, at]) => got.get(id)! - at);
        expect(Math.max(...latencies)).toBeLessThan(10_000);
        expect((await health(b)).body.status).toBe("standby"); // delivered by the holder: the standby never connected
      } finally {
        await staff.stop();
      }
    });

    it("a second process on the same SQLite file refuses to start, saying which process holds it", async () => {
      const dir = mkdtempSync(join(tmpdir(), "xmppkit-ha-sqlite-"));
      const sqlite = gatewayYaml(prosody, `storage:\n  sqlite: ${join(dir, "x.sqlite")}\nmodules_enabled: [report-forward]\n`);
      const a = await startCli(sqlite, env());
      await healthy(a);
      const path = join(dir, "second.yaml");
      writeFileSync(path, sqlite);
      const second = await runCli(["--config", path], env());
      expect(second.code).not.toBe(0);
      expect(second.stderr).toMatch(new RegExp(`another gateway \\(pid ${a.child.pid}, [^)]+\\) is using ${join(dir, "x.sqlite")}`));
    });

    it("ha.enabled without storage.postgres is a config error", async () => {
      const dir = mkdtempSync(join(tmpdir(), "xmppkit-ha-cfg-"));
      const path = join(dir, "g.yaml");
      writeFileSync(path, gatewayYaml(prosody, "ha:\n  enabled: true\n"));
      const r = await runCli(["--config", path, "--check-config"], env());
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/ha\.enabled.*needs storage\.postgres/);
    });
  });
});
