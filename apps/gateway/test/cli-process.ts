// Gateway processes for the active/standby e2e tests: the built CLI as deployed, its /healthz, and what
// PostgreSQL and Prosody say about it (lease polls, component links).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { openPostgresStore } from "@xmppkit/runtime";
import { freePort, type Prosody } from "@xmppkit/testing";
import { BIN } from "./helpers.js";

export interface Proc {
  child: ChildProcess;
  port: number;
  out(): string;
  exited: Promise<number | null>;
}

/** Every process started, for an afterEach to kill. */
export const children: Proc[] = [];

/** Kill every process started so far (SIGKILL) and wait for each to be gone. */
export async function killChildren(): Promise<void> {
  for (const p of children.splice(0)) {
    p.child.kill("SIGKILL");
    await p.exited;
  }
}

export async function startCli(config: string, env: NodeJS.ProcessEnv): Promise<Proc> {
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

export type Health = { status: number; body: { status: string; reason?: string } };
export const health = (p: Pick<Proc, "port">): Promise<Health> =>
  fetch(`http://127.0.0.1:${p.port}/healthz`).then(
    async (r) => ({ status: r.status, body: (await r.json()) as Health["body"] }),
    () => ({ status: 0, body: { status: "unreachable" } }),
  );

export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
export const healthy = (p: Pick<Proc, "port">, timeoutMs?: number) =>
  until("healthy", async () => ((await health(p)).status === 200 ? true : undefined), timeoutMs);
/** A standby that PostgreSQL has told the lease is held (before that, healthz says it is asking). */
export const standby = (p: Pick<Proc, "port">) =>
  until("standby", async () => {
    const { body } = await health(p);
    return body.status === "standby" && body.reason?.includes("another instance holds") ? true : undefined;
  });
/** Wait until the standby `p` has asked PostgreSQL for the lease `n` more times (its lease session's query_start changes with each try). */
export async function leasePolls(pgUrl: string, p: Proc, n: number): Promise<void> {
  const admin = await openPostgresStore(pgUrl);
  try {
    const seen = new Set<string>();
    await until(
      `${n} lease polls of the standby`,
      async () => {
        const rows = await admin.query<{ query_start: Date | string | null }>(
          "SELECT query_start FROM pg_stat_activity WHERE application_name = 'xmppkit-gateway lease ' || $1",
          [`${hostname()}:${p.child.pid}`],
        );
        for (const r of rows) if (r.query_start) seen.add(String(r.query_start instanceof Date ? r.query_start.getTime() : r.query_start));
        return seen.size > n ? true : undefined; // the first value seen is a poll from before
      },
      30_000,
    );
  } finally {
    await admin.close();
  }
}
/** Component connections Prosody accepted so far (its log says so at info). */
export const componentLinks = (prosody: Prosody) => prosody.logTail(100_000).match(/External component successfully authenticated/g)?.length ?? 0;
