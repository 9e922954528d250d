// End-to-end: @xmppkit/audit-geoip in the gateway against each real server, a real HTTP backend and a real
// SQLite file: a login, HTTP calls direct and through a trusted proxy, a restart, a crash, and the CLI.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { AuditEvent } from "@xmppkit/audit-geoip";
import { xml } from "@xmppkit/core";
import { freePort, loginClient, startHttpBackend, startServer, type Ejabberd, type HttpBackend, type TestClient, type XmppServer } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { startGateway, type Gateway } from "../src/gateway.js";
import { behaviourOf } from "./compatibility.js";
import { BIN, captureLogger, gatewayYaml, runCli, SERVERS, waitFor } from "./helpers.js";

const TOKEN = "e2e-audit-token-0123456789abcdef";
type EventJson = Omit<AuditEvent, "time"> & { time: string };

describe.each(SERVERS)("audit-geoip in the gateway, against a real $id", (server) => {
  const behaviour = behaviourOf(server.id);
  let prosody: XmppServer;
  let webApp: HttpBackend;
  let gateway: Gateway | undefined;
  let alice: TestClient | undefined;
  let dir: string;
  let configPath: string;
  let yaml: string;
  const log = captureLogger();
  const env = () => ({ GATEWAY_SECRET: prosody.component.secret });

  const start = async () => {
    const { config, sourceMap } = parseConfig(yaml, { source: configPath, env: env() });
    gateway = await startGateway(config, { logger: log.logger, sourceMap });
    return gateway;
  };
  const audit = async (query: string): Promise<EventJson[]> => {
    const res = await fetch(`${gateway!.http.url}/audit?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { events: EventJson[] }).events;
  };
  const refresh = (headers: Record<string, string> = {}) =>
    fetch(`${gateway!.http.url}/roster_admin/refresh`, {
      method: "POST",
      body: '["alice"]',
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    });

  beforeAll(async () => {
    webApp = await startHttpBackend(() => ({ body: {} }));
    prosody = await startServer(server);
    dir = mkdtempSync(join(tmpdir(), "xmppkit-audit-e2e-"));
    configPath = join(dir, "gateway.yaml");
    // 127.0.0.1 is the trusted proxy: a request without X-Forwarded-For is the proxy's own (loopback, no
    // location); with it, the forwarded client's address counts.
    yaml = gatewayYaml(
      prosody,
      `storage:
  sqlite: ${join(dir, "xmppkit.sqlite")}
modules_enabled: [http-roster-admin, audit-geoip]
http-roster-admin:
  http_roster_url: ${webApp.url}/contacts/%s
${behaviour.rosterWriter === "ejabberd_api" ? `  http_roster_writer: ejabberd_api\n  http_roster_ejabberd_api_url: ${(prosody as Ejabberd).api}\n` : ""}audit-geoip:
  audit_status_heartbeat_interval: 1
`,
      { token: TOKEN },
    ).replace("http:\n", "http:\n  trusted_proxies: [127.0.0.1]\n");
    writeFileSync(configPath, yaml);
    await start();
  });

  afterAll(async () => {
    await alice?.stop();
    await gateway?.stop();
    await prosody?.stop();
    await webApp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records its own start, the link and the permissions the server granted", async () => {
    const events = await waitFor(async () => {
      const e = await audit("since=1h");
      return ["gateway-started", "link-up", "permissions-granted"].every((t) => e.some((x) => x.type === t)) ? e : undefined;
    }, "start events");
    expect(events.find((e) => e.type === "permissions-granted")).toMatchObject({ module: "core", host: prosody.domain, actor: prosody.domain });
    expect(events.find((e) => e.type === "gateway-started")).toMatchObject({ module: "gateway", host: prosody.component.domain });
  });

  it("alice logs in: session-available for her full JID, without an IP (a component never sees one)", async () => {
    alice = await loginClient(prosody, "alice", { resource: "phone" });
    const [session] = await waitFor(async () => {
      const e = await audit(`type=session-available&user=alice@${prosody.domain}/phone`);
      return e.length ? e : undefined;
    }, "alice's session-available");
    expect(session).toMatchObject({
      type: "session-available",
      user: `alice@${prosody.domain}`,
      resource: "phone",
      actor: `alice@${prosody.domain}/phone`,
      host: prosody.domain,
      module: "core",
    });
    expect(session!.ip).toBeUndefined();
    expect(session!.location).toBeUndefined();
  });

  it("an HTTP refresh from 127.0.0.1 is logged with the IP and no location; the roster sync too", async () => {
    expect((await refresh()).status).toBe(200);
    const [call] = await waitFor(async () => {
      const e = (await audit("type=http-request")).filter((x) => x.note?.startsWith("POST /roster_admin/refresh"));
      return e.length ? e : undefined;
    }, "the refresh call");
    expect(call).toMatchObject({
      ip: "127.0.0.1",
      actor: "127.0.0.1",
      note: "POST /roster_admin/refresh → 200",
      details: { method: "POST", path: "/roster_admin/refresh", status: 200 },
    });
    expect(call!.location).toBeUndefined();
    const synced = await waitFor(async () => (await audit(`type=roster-synced&user=alice@${prosody.domain}`))[0], "roster-synced");
    expect(synced).toMatchObject({ module: "http-roster-admin", user: `alice@${prosody.domain}` });
  });

  it("through the trusted proxy, X-Forwarded-For: 81.2.69.142 is logged in GB (the bundled database)", async () => {
    expect((await refresh({ "x-forwarded-for": "81.2.69.142" })).status).toBe(200);
    const [call] = await waitFor(async () => {
      const e = await audit("type=http-request&country=GB");
      return e.length ? e : undefined;
    }, "the proxied call");
    expect(call).toMatchObject({ ip: "81.2.69.142", location: { countryCode: "GB", countryName: "United Kingdom" } });
    // The request that read the log is in it too; monitoring's /healthz is not.
    await fetch(`${gateway!.http.url}/healthz`);
    await waitFor(async () => (await audit("type=http-request")).some((e) => e.note?.startsWith("GET /audit")), "GET /audit itself");
    expect((await audit("type=http-request&limit=1000")).some((e) => e.note?.includes("/healthz"))).toBe(false);
  });

  it("a bad filter is a 400 naming it; no token is a 401", async () => {
    const bad = await fetch(`${gateway!.http.url}/audit?country=United+Kingdom`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: "country" });
    expect((await fetch(`${gateway!.http.url}/audit`)).status).toBe(401);
  });

  it("a restart keeps everything; the CLI reads it while the gateway is stopped", async () => {
    // ejabberd forwards no unavailable when a client just closes its stream (the audit docs say so): only an
    // explicit unavailable presence reaches the gateway there. Prosody forwards the end of every session.
    if (behaviour.sessionEndForwarded !== "always") await alice!.xmpp.send(xml("presence", { type: "unavailable" }));
    await alice!.stop();
    alice = undefined;
    await waitFor(async () => (await audit(`type=session-unavailable&user=alice@${prosody.domain}`)).length > 0, "session-unavailable");
    await gateway!.stop();
    gateway = undefined;

    // No GATEWAY_SECRET in this shell: the audit command needs only the storage settings.
    const table = await runCli(["audit", "--config", configPath, "--since", "1h"]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[1]).toMatch(/^Date\s+Source\s+Event\s+User\s+IP\s+Location\s+Note$/);
    expect(lines[3]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d gateway\s+gateway-stopped\s/); // newest first
    expect(table.stdout).toMatch(new RegExp(`session-available\\s+alice@${prosody.domain}/phone`));
    expect(table.stdout).toMatch(/http-request\s+81\.2\.69\.142 GB\s+POST \/roster_admin\/refresh → 200/);
    expect(lines.at(-1)).toMatch(/^\d+ records displayed$/);

    const json = await runCli(["audit", "--config", configPath, "--type", "http-request", "--country", "GB", "--json"], env());
    expect(json.code, json.stderr).toBe(0);
    const rows = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as EventJson);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.every((r) => r.location?.countryCode === "GB")).toBe(true);

    const bad = await runCli(["audit", "--config", configPath, "--since", "last tuesday"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since: expected a period back from now/);

    await start();
    const all = await waitFor(async () => {
      const e = await audit("type=gateway-started,gateway-stopped,session-available");
      return e.filter((x) => x.type === "gateway-started").length >= 2 ? e : undefined;
    }, "the second start");
    expect(
      all
        .map((e) => e.type)
        .filter((t) => t !== "session-available")
        .slice(0, 3),
    ).toEqual(["gateway-started", "gateway-stopped", "gateway-started"]);
    expect(all.some((e) => e.type === "session-available" && e.resource === "phone")).toBe(true);
  });

  it("a gateway killed with SIGKILL is recorded as crashed, at its last heartbeat, by the next start", async () => {
    await gateway!.stop();
    gateway = undefined;
    const port = await freePort();
    const path = join(dir, "killed.yaml");
    writeFileSync(path, yaml.replace("listen: 127.0.0.1:0", `listen: 127.0.0.1:${port}`));
    const child = spawn(process.execPath, [BIN, "--config", path], { env: { PATH: process.env.PATH, ...env() }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise((r) => child.on("exit", r));
    await waitFor(
      () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.status === 200,
          () => false,
        ),
      `the spawned gateway\n${out}`,
      15_000,
    );
    // At least one heartbeat after the start (audit_status_heartbeat_interval: 1): read it from the store.
    await waitFor(() => {
      let db: DatabaseSync;
      try {
        db = new DatabaseSync(join(dir, "xmppkit.sqlite"), { readOnly: true });
      } catch {
        return false; // not openable read-only this instant (WAL files being made): ask again
      }
      try {
        const rows = db.prepare("SELECT value FROM xmppkit_kv WHERE namespace = 'audit-status'").all() as { value: string }[];
        return rows
          .map((r) => JSON.parse(r.value) as { pid?: number; heartbeat: number; startedAt: number })
          .some((v) => v.pid === child.pid && v.heartbeat > v.startedAt);
      } finally {
        db.close();
      }
    }, `a heartbeat of the spawned gateway\n${out}`);
    child.kill("SIGKILL");
    await exited;

    await start();
    const [crash] = await waitFor(async () => {
      const e = await audit("type=gateway-crashed");
      return e.length ? e : undefined;
    }, "gateway-crashed");
    expect(crash!.note).toMatch(/ended without a shutdown; last heartbeat/);
    const started = (await audit("type=gateway-started&limit=2")).map((e) => Date.parse(e.time));
    // Between the killed run's start and this start.
    expect(Date.parse(crash!.time)).toBeGreaterThan(started[1]!);
    expect(Date.parse(crash!.time)).toBeLessThan(started[0]!);
  });
});
