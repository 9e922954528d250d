// The CLI as an operator runs it: the built bin, a real config file, a real Prosody.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startProsody, type Prosody } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, gatewayYaml, runCli } from "./helpers.js";

describe("xmppkit-gateway CLI", () => {
  let prosody: Prosody;
  let dir: string;
  beforeAll(async () => {
    prosody = await startProsody({ users: {} });
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
    expect(lines[0]).toMatch(/^xmppkit-gateway: cannot connect to xmpp:\/\/127\.0\.0\.1:\d+ as gateway\.localhost: not-authorized: the server refused the credentials/);
  });

  it("runs, answers /healthz, and exits 0 on SIGTERM", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const path = configFile(gatewayYaml(prosody, "log:\n  level: info\n  format: json\n", { listen: `127.0.0.1:${port}` }).replace(/log:\n  level: debug\n/, ""));
    const child = spawn(process.execPath, [BIN, "--config", path], { env: { PATH: process.env.PATH, GATEWAY_SECRET: prosody.component.secret }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status, out).toBe(200);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const msgs = out.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toEqual(expect.arrayContaining(["connected to the server", "XEP-0356 permissions granted", "shutting down", "stopped"]));
  });

  it("--check-config reports an unknown key with its line and exits 3", async () => {
    const r = await runCli(["--config", configFile(`${gatewayYaml(prosody)}storag:\n  sqlite: x\n`), "--check-config"], { GATEWAY_SECRET: "x" });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/storag \(.*gateway-\w+\.yaml line 12\): unknown key/);
  });

  it("--check-config names a missing environment secret and exits 3", async () => {
    const r = await runCli(["--config", configFile(gatewayYaml(prosody)), "--check-config"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/component\.secret \(.* line 4\): environment variable GATEWAY_SECRET is not set/);
  });

  it("an enabled module that is not installed stops startup with the install command", async () => {
    const r = await runCli(["--config", configFile(`${gatewayYaml(prosody)}modules_enabled: [no-such-module]\n`)], { GATEWAY_SECRET: prosody.component.secret });
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe('xmppkit-gateway: module "no-such-module" is enabled but @xmppkit/no-such-module is not installed (pnpm add @xmppkit/no-such-module)');
  });

  it("--check-config passes a good config; --version and --help work; bad usage exits 2", async () => {
    const ok = await runCli(["--config", configFile(gatewayYaml(prosody)), "--check-config"], { GATEWAY_SECRET: "x" });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/: ok \(0 module\(s\): none\)/);
    expect((await runCli(["--version"])).stdout.trim()).toBe(JSON.parse(readFileSync(resolve(import.meta.dirname, "../package.json"), "utf8")).version);
    expect((await runCli(["--help"])).stdout).toContain("Exit codes");
    expect((await runCli(["--frobnicate"])).code).toBe(2);
    expect((await runCli([])).code).toBe(2);
  });
});
