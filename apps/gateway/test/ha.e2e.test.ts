// End-to-end: two gateway processes (the CLI, as deployed) with one PostgreSQL store and `ha.enabled`,
// against a real Prosody and a real PostgreSQL. One holds the lease and the component link; the other is a
// standby that says so in /healthz and /metrics and never connects. kill -9 of the holder: the standby is
// online within the bound; SIGTERM: it takes over without waiting. Two processes on one SQLite file: the
// second refuses to start.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startPostgres, startProsody, type Postgres, type Prosody } from "@xmppkit/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BIN, gatewayYaml, runCli } from "./helpers.js";

interface Proc {
  child: ChildProcess;
  port: number;
  out(): string;
  exited: Promise<number | null>;
}

const children: Proc[] = [];

async function startCli(config: string, env: NodeJS.ProcessEnv): Promise<Proc> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-ha-"));
  const path = join(dir, "gateway.yaml");
  writeFileSync(path, config.replace("listen: 127.0.0.1:0", `listen: 127.0.0.1:${port}`));
  const child = spawn(process.execPath, [BIN, "--config", path], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const proc = { child, port, out: () => out, exited: new Promise<number | null>((r) => child.on("exit", (code) => r(code))) };
  children.push(proc);
  return proc;
}

const health = (p: Proc) =>
  fetch(`http://127.0.0.1:${p.port}/healthz`).then(
    async (r) => ({ status: r.status, body: (await r.json()) as { status: string; reason?: string } }),
    () => ({ status: 0, body: { status: "unreachable" } }),
  );

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const healthy = (p: Proc, timeoutMs?: number) => until("healthy", async () => ((await health(p)).status === 200 ? true : undefined), timeoutMs);
const standby = (p: Proc) => until("standby", async () => ((await health(p)).body.status === "standby" ? true : undefined));
/** Component connections Prosody accepted so far (its log says so at info). */
const componentLinks = (prosody: Prosody) => prosody.logTail(100_000).match(/External component successfully authenticated/g)?.length ?? 0;

describe("active/standby with one PostgreSQL, against a real Prosody", () => {
  let prosody: Prosody;
  let pg: Postgres;
  let config: string;
  const env = () => ({ GATEWAY_SECRET: prosody.component.secret });

  beforeAll(async () => {
    prosody = await startProsody({ logLevel: "info" });
    pg = await startPostgres();
    const db = await pg.createDatabase("ha");
    config = gatewayYaml(prosody, `storage:\n  postgres: ${db}\nha:\n  enabled: true\n  poll_interval: 0.5\nlog:\n  level: info\n  format: json\n`).replace(
      /log:\n {2}level: debug\n/,
      "",
    );
  });
  afterEach(async () => {
    for (const p of children.splice(0)) {
      p.child.kill("SIGKILL");
      await p.exited;
    }
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
    await new Promise((r) => setTimeout(r, 1500)); // several polls of the standby
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
    expect(b.out()).toContain("took over: this instance holds the lease now");
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
