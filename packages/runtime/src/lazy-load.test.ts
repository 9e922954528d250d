// What each part of the runtime loads, seen from a fresh process of the built package (ESM and CJS): a driver,
// the HTTP server, the logger and the metrics are loaded when they are first used, never by the import, and a
// SQLite store never loads pg. Needs a build (`pnpm --filter @xmppkit/runtime build`), like every consumer.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { promClasses } from "./metrics.js";

const run = promisify(execFile);
const packageDir = dirname(import.meta.dirname);
const dir = mkdtempSync(join(tmpdir(), "xmppkit-lazy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Packages whose files are in the module cache (CommonJS ones, also when loaded through `import`). */
const LOADED = `
const seen = new Set();
for (const f of Object.keys(require("node:module")._cache ?? {})) {
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\/(?!.*node_modules\\/)(.*)$/.exec(f);
  if (m) seen.add(m[1] === "prom-client" && m[2] === "index.js" ? "prom-client (main entry)" : m[1]);
}
process.stdout.write(JSON.stringify([...seen].sort()));`;

/** Run `body` (with `rt` = the built package) in a fresh process; the packages it loaded. */
async function loadedBy(format: "esm" | "cjs", body: string): Promise<string[]> {
  const code =
    format === "esm"
      ? `import { createRequire } from "node:module"; const require = createRequire(import.meta.url); const rt = await import("./dist/index.js"); ${body}; ${LOADED}`
      : `(async () => { const rt = require("./dist/index.cjs"); ${body}; ${LOADED} })().catch((e) => { console.error(e); process.exit(1); });`;
  const { stdout } = await run(process.execPath, [...(format === "esm" ? ["--input-type=module"] : []), "-e", code], { cwd: packageDir });
  return JSON.parse(stdout) as string[];
}

const HEAVY = ["libsql", "pg", "pino", "pino-pretty", "prom-client", "@opentelemetry/api"];

describe.each(["esm", "cjs"] as const)("what the built package loads (%s)", (format) => {
  it("importing it loads none of the drivers, the HTTP server, the logger or the metrics", async () => {
    const loaded = await loadedBy(format, "void rt.z");
    expect(loaded.filter((p) => HEAVY.includes(p) || p.startsWith("prom-client"))).toEqual([]);
  });

  it("opening a SQLite store loads libsql and not pg", async () => {
    const file = join(dir, `${format}.sqlite`);
    const loaded = await loadedBy(
      format,
      `const s = await rt.openStore({ sqlite: ${JSON.stringify(file)} }); await s.kv("t").set("k", 1); if ((await s.kv("t").get("k")) !== 1) throw new Error("store"); await s.close()`,
    );
    expect(loaded).toContain("libsql");
    expect(loaded).not.toContain("pg");
  });

  it("opening a PostgreSQL store loads pg (and fails with the server's reason)", async () => {
    const loaded = await loadedBy(
      format,
      `const err = await rt.openPostgresStore("postgres://x@127.0.0.1:1/none").then(() => undefined, (e) => e); if (!/ECONNREFUSED/.test(String(err?.message ?? err?.errors?.[0]?.message))) throw err ?? new Error("opened")`,
    );
    expect(loaded).toContain("pg");
    expect(loaded).not.toContain("libsql");
  });

  it("a JSON logger loads pino (the application's copy) and not pino-pretty; a pretty one loads pino-pretty and writes readable lines", async () => {
    const json = await loadedBy(format, `rt.createLogger({ format: "json", destination: process.stderr }).info("hello")`);
    expect(json).toContain("pino");
    expect(json).not.toContain("pino-pretty");
    const pretty = await loadedBy(
      format,
      `const chunks = []; const destination = new (require("node:stream").Writable)({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
       rt.createLogger({ format: "pretty", destination }).info("hello"); if (!/INFO.*hello/.test(chunks.join(""))) throw new Error(chunks.join(""))`,
    );
    expect(pretty).toContain("pino-pretty");
  });

  it("metrics load prom-client's classes, not its main entry (push gateway, cluster, default metrics, OpenTelemetry)", async () => {
    const loaded = await loadedBy(
      format,
      `const m = rt.createMetrics(); m.counter("t", "hits", "hits").inc(); if (!(await m.text()).includes("xmppkit_t_hits 1")) throw new Error(await m.text())`,
    );
    expect(loaded).toContain("prom-client");
    expect(loaded).not.toContain("prom-client (main entry)");
    expect(loaded).not.toContain("@opentelemetry/api");
  });

  it("an HTTP server loads no package: node:http is enough for the route contract", async () => {
    const loaded = await loadedBy(
      format,
      `const h = rt.createHttpServer({ listen: "127.0.0.1:0" }); h.route({ method: "GET", path: "/x", auth: false, handler: () => ({ body: { ok: true } }) });
       await h.start(); const r = await (await fetch(h.url + "/x")).json(); await h.close(); if (!r.ok) throw new Error("route")`,
    );
    expect(loaded).toEqual(await loadedBy(format, "void rt.z"));
  });
});

it("prom-client's classes, loaded from their files, are the ones its main entry exports", () => {
  const promClient = createRequire(import.meta.url)("prom-client") as Record<string, unknown>;
  const c = promClasses();
  expect(c.Registry).toBe(promClient.Registry);
  expect(c.Counter).toBe(promClient.Counter);
  expect(c.Gauge).toBe(promClient.Gauge);
  expect(c.Histogram).toBe(promClient.Histogram);
});
