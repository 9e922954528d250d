// End-to-end: the gateway's SQLite file on disk, against a real Prosody 13. A second gateway (the CLI, as
// deployed) that names the same file through a symlinked data_dir refuses to start; the data directory
// removed under a running gateway (`rm -rf`) turns /healthz to 503 naming the file, and the log says so.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { startProsody, suiteServers, type Prosody } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { captureLogger, gatewayYaml, runCli, testConfig, waitFor } from "./helpers.js";

const PROSODY_13 = suiteServers(["prosody"]).find((s) => s.id === "prosody-13")!;

interface Healthz {
  status: number;
  body: { status: string; store?: string; reason?: string };
}

describe("the gateway's SQLite file on disk (Prosody 13)", () => {
  let prosody: Prosody;
  let gateway: Gateway | undefined;
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-store-on-disk-"));
  const dataDir = join(dir, "data");
  const file = join(dataDir, "xmppkit.sqlite");
  const log = captureLogger();
  const healthz = async (): Promise<Healthz> => {
    const r = await fetch(`${gateway!.http.url}/healthz`);
    return { status: r.status, body: (await r.json()) as Healthz["body"] };
  };

  beforeAll(async () => {
    prosody = await startProsody({ root: PROSODY_13.root, logLevel: "info" });
    const { config, sourceMap } = testConfig(prosody, `storage:\n  data_dir: ${dataDir}\nmodules_enabled: [report-forward]\n`);
    gateway = await startGateway(config, { sourceMap, logger: log.logger });
  });
  afterAll(async () => {
    await gateway?.stop();
    await prosody?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a second gateway naming the same file through a symlink refuses to start, naming both", async () => {
    expect(await healthz()).toEqual({ status: 200, body: expect.objectContaining({ status: "ok", store: "ok" }) });
    symlinkSync(dataDir, join(dir, "alias"));
    const yaml = join(dir, "second.yaml");
    writeFileSync(yaml, gatewayYaml(prosody, `storage:\n  data_dir: ${join(dir, "alias")}\nmodules_enabled: [report-forward]\n`));
    const second = await runCli(["--config", yaml], { GATEWAY_SECRET: prosody.component.secret });
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toContain(
      `xmppkit-gateway: another gateway (pid ${process.pid}, ${hostname()}:${process.pid}) is using ${join(dir, "alias", "xmppkit.sqlite")} (as ${file}); two writers and two component links would clash\n`,
    );
  });

  it("its data directory removed (rm -rf): /healthz turns 503 naming the file, and the log says so", async () => {
    rmSync(dataDir, { recursive: true });
    const gone = await waitFor(
      async () => {
        const h = await healthz();
        return h.status === 503 ? h : undefined;
      },
      "/healthz saying 503",
      15_000,
      200,
    );
    expect(gone.body).toMatchObject({
      status: "unavailable",
      link: "up",
      store: "gone",
      reason: `${file} is gone (deleted, or its directory removed): writes go to a file nobody can open, and a restart would start an empty store`,
    });
    expect(log.lines().filter((l) => l.level === 50 && l.msg?.startsWith("storage: "))).toEqual([
      expect.objectContaining({ store: file, state: "gone", msg: `storage: ${gone.body.reason}` }),
    ]);
  });
});
