// The CLI as an operator runs it: the built bin, a real config file, a real Prosody.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:http";
import { scripts, startFaultServer, startProsody, startServer, type Prosody, type XmppServer, suiteServers } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, gatewayYaml, runCli, waitFor } from "./helpers.js";

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("xmppkit-gateway CLI", () => {
    let prosody: Prosody;
    let dir: string;
    beforeAll(async () => {
      prosody = await startProsody({ root, users: {} });
      dir = mkdtempSync(join(tmpdir(), "xmppkit-cli-"));
    });
    afterAll(async () => {
      await prosody?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    function configFile(text: string) {
      const path = join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(path, text);
      return path;
    }

    it("with a wrong secret exits 4 with a one-line reason", async () => {
      const r = await runCli(["--config", configFile(gatewayYaml(prosody))], { GATEWAY_SECRET: "wrong-secret" });
      expect(r.code).toBe(4);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^xmppkit-gateway: cannot connect to xmpp:\/\/127\.0\.0\.1:\d+ as gateway\.localhost: not-authorized: the server refused the credentials/,
      );
    });

    it("runs, answers /healthz, and exits 0 on SIGTERM", async () => {
      const port = 20000 + Math.floor(Math.random() * 20000);
      const path = configFile(
        gatewayYaml(prosody, "log:\n  level: info\n  format: json\n", { listen: `127.0.0.1:${port}` }).replace(/log:\n {2}level: debug\n/, ""),
      );
      const child = spawn(process.execPath, [BIN, "--config", path], {
        env: { PATH: process.env.PATH, GATEWAY_SECRET: prosody.component.secret },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
      const healthy = await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.status === 200,
            () => false,
          ),
        "a healthy gateway",
      ).catch(() => false);
      expect(healthy, out).toBe(true);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const msgs = out
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(msgs).toEqual(expect.arrayContaining(["connected to the server", "XEP-0356 permissions granted", "shutting down", "stopped"]));
    });

    it("--check-config reports an unknown key with its line and exits 3", async () => {
      const r = await runCli(["--config", configFile(`${gatewayYaml(prosody)}storag:\n  sqlite: x\n`), "--check-config"], { GATEWAY_SECRET: "x" });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/storag \(.*gateway-\w+\.yaml line 14\): unknown key/);
    });

    it("--check-config names a missing environment secret and exits 3", async () => {
      const r = await runCli(["--config", configFile(gatewayYaml(prosody)), "--check-config"]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/component\.secret \(.* line 6\): environment variable GATEWAY_SECRET is not set/);
    });

    it("an enabled module that is not installed stops startup with the install command", async () => {
      const path = configFile(`${gatewayYaml(prosody)}modules_enabled: [no-such-module]\n`);
      const r = await runCli(["--config", path], { GATEWAY_SECRET: prosody.component.secret });
      expect(r.code).toBe(3);
      expect(r.stderr.trim()).toBe(
        `xmppkit-gateway: invalid configuration in ${path}: modules_enabled[0] (${path} line 14): module "no-such-module" is enabled but @xmppkit/no-such-module (nor a package named no-such-module) is not installed (npm install @xmppkit/no-such-module)`,
      );
    });

    it("a module that needs another one not enabled: exit 3, one line with the entry and its line, no stack", async () => {
      const path = configFile(`${gatewayYaml(prosody)}modules_enabled: [ping-muc]\n`);
      for (const args of [
        ["--config", path, "--check-config"],
        ["--config", path],
      ]) {
        const r = await runCli(args, { GATEWAY_SECRET: prosody.component.secret });
        expect([r.code, r.stderr]).toEqual([
          3,
          `xmppkit-gateway: invalid configuration in ${path}: modules_enabled[0] (${path} line 14): module "ping-muc" requires module "track-muc-joins": add it to modules_enabled\n`,
        ]);
      }
    });

    it("--check-config refuses http.listen beyond loopback without http.token, as start does: exit 3, one line", async () => {
      const path = configFile(gatewayYaml(prosody, "", { listen: "0.0.0.0:5281" }));
      const r = await runCli(["--config", path, "--check-config"], { GATEWAY_SECRET: "x" });
      expect([r.code, r.stdout, r.stderr]).toEqual([
        3,
        "",
        `xmppkit-gateway: invalid configuration in ${path}: http.token (${path} line 10): is required when http.listen is not a loopback address (0.0.0.0): set http.token or listen on 127.0.0.1\n`,
      ]);
    });

    it("--check-config passes a good config; --version and --help work; bad usage exits 2", async () => {
      const ok = await runCli(["--config", configFile(gatewayYaml(prosody)), "--check-config"], { GATEWAY_SECRET: "x" });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/: ok \(0 module\(s\): none\)/);
      expect((await runCli(["--version"])).stdout.trim()).toBe(JSON.parse(readFileSync(resolve(import.meta.dirname, "../package.json"), "utf8")).version);
      const help = (await runCli(["--help"])).stdout;
      expect(help).toContain("Exit codes");
      expect(help).toMatch(/Commands of the installed modules:\n {2}audit +show the audit log .*\(audit-geoip\)/);
      expect((await runCli(["audit", "--help"])).stdout).toContain("Usage: xmppkit-gateway audit --config gateway.yaml");
      const unknown = await runCli(["frobnicate", "--config", "x.yaml"]);
      expect([unknown.code, unknown.stderr.trim()]).toEqual([3, "xmppkit-gateway: cannot read config x.yaml: ENOENT"]);
      const noSuch = await runCli(["frobnicate"]);
      expect([noSuch.code, noSuch.stderr.trim()]).toEqual([2, 'xmppkit-gateway: unknown command "frobnicate" (commands: audit); see --help']);
      expect((await runCli(["audit"])).stderr.trim()).toBe("xmppkit-gateway audit: missing --config <file> (see audit --help)");
      expect((await runCli(["--frobnicate"])).code).toBe(2);
      expect((await runCli([])).code).toBe(2);
    });

    /** Spawn the bin; `out` collects stdout and stderr. */
    function spawnGateway(path: string, env: Record<string, string> = {}, nodeArgs: string[] = []) {
      const child = spawn(process.execPath, [...nodeArgs, BIN, "--config", path], {
        env: { PATH: process.env.PATH, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const seen = { out: "" };
      child.stdout.on("data", (d) => (seen.out += d));
      child.stderr.on("data", (d) => (seen.out += d));
      const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on("exit", (code, signal) => r({ code, signal })));
      return { child, seen, exited };
    }

    it("SIGTERM while start-up waits for a server that never answers: exit 0, stopped cleanly, no false crash next time", async () => {
      const silent = await startFaultServer({ script: scripts.silence });
      try {
        const sqlite = join(dir, `sigterm-${Date.now()}.sqlite`);
        const yaml = gatewayYaml(prosody, `storage:\n  sqlite: ${sqlite}\nmodules_enabled: [audit-geoip]\n`, { listen: "127.0.0.1:0" })
          .replace(/service: .*/, `service: ${silent.service}`)
          .replace(/log:\n {2}level: debug\n/, "log:\n  level: info\n  format: json\n");
        const path = configFile(yaml);
        const g = spawnGateway(path, { GATEWAY_SECRET: "x" });
        await silent.nextConnection(15_000); // start-up is waiting for the stream header
        g.child.kill("SIGTERM");
        const { code } = await g.exited;
        expect(code, g.seen.out).toBe(0);
        const msgs = g.seen.out
          .split("\n")
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { msg: string }).msg);
        expect(msgs).toEqual(expect.arrayContaining(["signal received", "shutting down", "stopped before start-up finished"]));
        expect(msgs).not.toContain("reconnecting");
        const table = await runCli(["audit", "--config", path, "--json"]);
        const types = table.stdout
          .trim()
          .split("\n")
          .map((l) => (JSON.parse(l) as { type: string }).type);
        expect(types).toEqual(["gateway-stopped", "gateway-started"]);
      } finally {
        await silent.close();
      }
    });

    /** The lock files (in `dirs`, and xmppkit's in the temp directory) that name process `pid` as their holder. */
    function locksHeldBy(pid: number, dirs: string[]): string[] {
      const files = [
        ...dirs.flatMap((d) => readdirSync(d).map((f) => join(d, f))),
        ...readdirSync(tmpdir())
          .filter((f) => f.startsWith("xmppkit-"))
          .map((f) => join(tmpdir(), f)),
      ];
      return files.filter((f) => {
        if (!f.endsWith(".lock")) return false;
        try {
          return readFileSync(f, "utf8").startsWith(`${pid} `);
        } catch {
          return false; // a directory, or gone
        }
      });
    }

    it("SIGHUP stops cleanly like SIGTERM: exit 0, the log says it stopped, the SQLite lock file is gone", async () => {
      const data = mkdtempSync(join(dir, "sighup-"));
      const yaml = gatewayYaml(prosody, `storage:\n  sqlite: ${join(data, "gateway.sqlite")}\nmodules_enabled: [report-forward]\n`).replace(
        /log:\n {2}level: debug\n/,
        "log:\n  level: info\n  format: json\n",
      );
      const g = spawnGateway(configFile(yaml), { GATEWAY_SECRET: prosody.component.secret });
      await waitFor(() => g.seen.out.includes('"msg":"connected to the server"'), `a connected gateway\n${g.seen.out}`);
      const pid = g.child.pid!;
      expect(locksHeldBy(pid, [data])).not.toEqual([]);
      g.child.kill("SIGHUP");
      expect(await g.exited, g.seen.out).toEqual({ code: 0, signal: null });
      const msgs = g.seen.out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; signal?: string });
      expect(msgs).toContainEqual(expect.objectContaining({ msg: "signal received", signal: "SIGHUP" }));
      expect(msgs.map((m) => m.msg)).toEqual(expect.arrayContaining(["shutting down", "stopped"]));
      expect(locksHeldBy(pid, [data])).toEqual([]);
    });

    it("SIGTERM while the modules are still loading: exit 0, not killed", async () => {
      const path = configFile(gatewayYaml(prosody, "modules_enabled: [report-forward]\n"));
      // Loading @xmppkit/core is made 3 s slower, and the fixture says when that delay starts: the signal
      // lands while the modules load, however long the process took to get there.
      const slow = resolve(import.meta.dirname, "fixtures/slow-core-import.mjs");
      const g = spawnGateway(path, { GATEWAY_SECRET: prosody.component.secret }, ["--import", slow]);
      const marker = "slow-core-import: delaying @xmppkit/core\n";
      await waitFor(() => g.seen.out.includes(marker), `the core import delayed\n${g.seen.out}`);
      expect(g.seen.out).toBe(marker); // nothing has started yet
      g.child.kill("SIGTERM");
      expect(await g.exited, g.seen.out).toEqual({ code: 0, signal: null });
    });

    it("component.service pointing at an HTTP server: exit 4 saying it does not speak XMPP, no crash", async () => {
      const web = createServer((_req, res) => res.end("hello"));
      await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
      try {
        const port = (web.address() as { port: number }).port;
        const path = configFile(gatewayYaml(prosody).replace(/service: .*/, `service: xmpp://127.0.0.1:${port}`));
        const r = await runCli(["--config", path], { GATEWAY_SECRET: prosody.component.secret });
        expect(r.code).toBe(4);
        expect(r.stderr.trim()).toMatch(
          /^xmppkit-gateway: cannot connect to xmpp:\/\/127\.0\.0\.1:\d+ as gateway\.localhost: not-xmpp: xmpp:\/\/127\.0\.0\.1:\d+ does not speak XMPP: it answered "HTTP\/1\.1 400 Bad Request/,
        );
      } finally {
        web.close();
      }
    });
  });
});

describe.each(suiteServers(["ejabberd"]))("$id", (server) => {
  describe("xmppkit-gateway CLI against ejabberd", () => {
    let ejabberd: XmppServer;
    let dir: string;
    beforeAll(async () => {
      ejabberd = await startServer(server, { users: {} });
      dir = mkdtempSync(join(tmpdir(), "xmppkit-cli-ej-"));
    });
    afterAll(async () => {
      await ejabberd?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it.each([
      ["a wrong secret", (y: string) => y, "wrong-secret"],
      ["a component domain the listener does not serve", (y: string) => y.replace(/domain: gateway\.localhost/, "domain: unknown.localhost"), undefined],
    ])("%s: ejabberd says not-authorized for both, and the exit message names both causes", async (_, edit, secret) => {
      const path = join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(path, edit(gatewayYaml(ejabberd)));
      const r = await runCli(["--config", path], { GATEWAY_SECRET: secret ?? ejabberd.component.secret });
      expect(r.code).toBe(4);
      expect(r.stderr.trim()).toMatch(
        /not-authorized: the server refused the credentials \(for a component: a wrong shared secret, or a domain the server does not know as a component; ejabberd says not-authorized for both\)$/,
      );
    });
  });
});
