import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandContext } from "@xmppkit/core";
import { openStore } from "@xmppkit/runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditCommand } from "./audit-command.js";
import { openAuditLog } from "./audit-log.js";

const GW = "gateway.localhost";

/** The command as the gateway runs it (apps/gateway/src/commands.ts): the store the config names, opened by ctx. */
async function runAudit(args: string[], dataDir: string) {
  const out = { stdout: "", stderr: "" };
  const ctx: CommandContext<unknown> = {
    options: undefined,
    configPath: "/etc/xmppkit/gateway.yaml",
    component: GW,
    enabled: true,
    openStore: (options) => openStore({ dataDir, ...options }),
    stdout(t) {
      out.stdout += t;
    },
    stderr(t) {
      out.stderr += t;
    },
    columns: undefined,
  };
  const code = await auditCommand.run(args, ctx);
  return { code, ...out };
}

describe("xmppkit-gateway audit: reads, and never creates", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "xmppkit-audit-command-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a data_dir with no database (a wrong --config): one line, exit 3, and nothing created", async () => {
    const dataDir = join(dir, "not-the-gateways");
    const r = await runAudit([], dataDir);
    expect(r).toEqual({
      code: 3,
      stdout: "",
      stderr: `xmppkit-gateway audit: no audit log at ${join(dataDir, "xmppkit.sqlite")} (data_dir: ${dataDir}): is --config the gateway's?\n`,
    });
    expect(existsSync(dataDir)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a gateway's database that audit-geoip never wrote to: exit 3, said so, and left as it was", async () => {
    const store = await openStore({ dataDir: dir });
    await store.close();
    const r = await runAudit(["--json"], dir);
    expect([r.code, r.stderr]).toEqual([
      3,
      `xmppkit-gateway audit: no audit log in ${join(dir, "xmppkit.sqlite")}: audit-geoip has never written to it (is it in the gateway's modules_enabled?)\n`,
    ]);
  });

  it("the gateway's audit log: its events, read through a read-only connection", async () => {
    const store = await openStore({ dataDir: dir });
    const audit = await openAuditLog({ store }, { host: GW });
    await audit.record({ type: "gateway-started", module: "gateway" });
    await audit.close();
    await store.close();
    const r = await runAudit(["--json"], dir);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { type: string }).type),
    ).toEqual(["gateway-started"]);
  });
});
