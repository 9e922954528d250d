// End-to-end: PostgreSQL away, for a gateway (the CLI, as deployed) with `ha.enabled`, against a real Prosody
// and a real PostgreSQL that the test stops and starts again. A gateway started while PostgreSQL is down
// keeps running, says so on /healthz, and holds the link soon after PostgreSQL is back; a standby never
// claims that another instance holds the lease while it cannot ask.
import { startPostgres, startProsody, suiteServers, type Postgres, type Prosody } from "@xmppkit/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Health, health, healthy, killChildren, standby, startCli, until } from "./cli-process.js";
import { gatewayYaml } from "./helpers.js";

const PROSODY_13 = suiteServers(["prosody"]).find((s) => s.id === "prosody-13")!;

describe("active/standby while PostgreSQL is away (Prosody 13)", () => {
  let prosody: Prosody;
  let pg: Postgres;
  let config: string;
  const env = () => ({ GATEWAY_SECRET: prosody.component.secret });

  beforeAll(async () => {
    prosody = await startProsody({ root: PROSODY_13.root, logLevel: "info" });
    pg = await startPostgres();
    const db = await pg.createDatabase("ha_store");
    config = gatewayYaml(prosody, `storage:\n  postgres: ${db}\nha:\n  enabled: true\n  poll_interval: 0.5\nmodules_enabled: [report-forward]\n`);
  });
  afterEach(async () => {
    await pg.resume();
    await killChildren();
  });
  afterAll(async () => {
    await prosody?.stop();
    await pg?.stop();
  });

  it("started while PostgreSQL is down, it keeps running, /healthz names PostgreSQL, and it holds the link within 15 s of its return", async () => {
    await pg.halt();
    const a = await startCli(config, env());
    const waiting = await until("healthz naming PostgreSQL", async () => {
      const h = await health(a);
      return h.status === 503 && h.body.reason?.startsWith("waiting for PostgreSQL: ") ? h : undefined;
    });
    expect(waiting.body).toMatchObject({ status: "waiting" });
    expect(waiting.body.reason).toMatch(/ECONNREFUSED/);
    expect(a.out()).toContain("waiting for PostgreSQL: it cannot be reached; retrying");
    for (let i = 0; i < 5; i++) expect((await health(a)).body.status).toBe("waiting"); // still running, still saying so
    expect(a.child.exitCode).toBeNull();
    expect(a.out()).not.toMatch(/\n\s+at /); // no stack trace for an expected condition
    await pg.resume();
    const back = Date.now();
    await healthy(a, 20_000);
    expect(Date.now() - back).toBeLessThan(15_000);
    expect(a.out()).toContain("PostgreSQL is reachable again");
  });

  it("while PostgreSQL is away nobody claims that another instance holds the lease; the holder closes its link and waits; one takes over once it is back", async () => {
    const a = await startCli(config, env());
    await healthy(a);
    const b = await startCli(config, env());
    await standby(b);
    await pg.halt();
    const cannotAsk = (h: Health) => h.body.reason?.startsWith("standby: cannot reach PostgreSQL") ?? false;
    // The holder cannot confirm its lease: it closes its link and keeps running, as a standby that cannot ask.
    for (const p of [b, a]) await until("a node saying it cannot ask", async () => (cannotAsk(await health(p)) ? true : undefined));
    const during: string[] = [];
    for (let i = 0; i < 10; i++) for (const p of [a, b]) during.push((await health(p)).body.reason ?? "");
    expect(during.filter((r) => r.includes("another instance holds"))).toEqual([]);
    expect(a.child.exitCode).toBeNull();
    const metrics = await (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text();
    expect(metrics).toMatch(/^xmppkit_gateway_state\{state="unreachable"\} 1$/m);
    await pg.resume();
    const back = Date.now();
    const holder = await until("one of them holding the link", async () => {
      for (const p of [a, b]) if ((await health(p)).status === 200) return p;
      return undefined;
    });
    expect(Date.now() - back).toBeLessThan(15_000);
    await standby(holder === a ? b : a);
  });
});
