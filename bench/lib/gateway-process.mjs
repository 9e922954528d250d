// The gateway as the benchmarks run it: its own process (`xmppkit-gateway`, exactly as deployed), configured
// for a test Prosody, with its log collected and its exit watched.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { freePort } from "@xmppkit/testing";

export const TOKEN = "bench-token-0123456789abcdef";
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const require = createRequire(import.meta.url);
/** The installed gateway's CLI (`xmppkit-gateway`). */
export const gatewayCli = join(dirname(require.resolve("@xmppkit/gateway/package.json")), "dist/cli.js");

/** Peak resident memory of a process (VmHWM), in MiB. */
export const peakRssMiB = (pid) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

/** The head of a gateway.yaml for `prosody`: the component, the server domain, HTTP on `port` with `token`. */
export const gatewayYamlHead = (prosody, { port, token = TOKEN, component = "" }) => `component:
  service: ${prosody.component.service}
  domain: ${prosody.component.domain}
  secret: ${prosody.component.secret}
${component}server_domain: ${prosody.domain}
http:
  listen: 127.0.0.1:${port}
  token: ${token}
`;

/**
 * Write a gateway.yaml for `prosody` (the component, the server domain, HTTP with TOKEN on a free port, a
 * JSON log at `logLevel`) plus `extra` (modules and their sections), start the gateway, and wait until
 * /healthz says 200. `onLine` sees each log line as it comes (stdout; stderr goes to `log` too).
 */
export async function startGatewayProcess(prosody, extra, { logLevel = "info", component = "", onLine } = {}) {
  const port = await freePort();
  const configPath = join(prosody.dir, "gateway.yaml");
  // The store in the run's directory unless `extra` names one: never the bench's ./data, shared by every run.
  const storage = /^storage:/m.test(extra) ? "" : `storage:\n  data_dir: ${join(prosody.dir, "gateway-data")}\n`;
  writeFileSync(
    configPath,
    `${gatewayYamlHead(prosody, { port, component })}${storage}log:
  level: ${logLevel}
  format: json
${extra}`,
  );
  const child = spawn(process.execPath, [gatewayCli, "--config", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  const g = {
    child,
    base: `http://127.0.0.1:${port}`,
    log: "",
    stopping: false,
    /** Exits the gateway made on its own (a crash). */
    crashes: 0,
    exited: new Promise((r) => child.once("exit", (code, signal) => r({ code, signal }))),
    /** Wait until /healthz is 200; resolves with the ms it took, or undefined after `timeoutMs`. */
    async healthy(timeoutMs = 60_000) {
      const start = performance.now();
      for (;;) {
        if (
          await fetch(`${g.base}/healthz`).then(
            (r) => r.ok,
            () => false,
          )
        )
          return performance.now() - start;
        if (performance.now() - start > timeoutMs) return undefined;
        await sleep(25);
      }
    },
    /** GET a path with the token; the body as text. */
    get: async (path) => (await fetch(`${g.base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text(),
    /** POST JSON with the token; the response, or undefined when the request failed. */
    post: (path, body) =>
      fetch(`${g.base}${path}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) }).catch(() => undefined),
    /** SIGTERM, and the exit code. */
    async stop() {
      g.stopping = true;
      child.kill("SIGTERM");
      return (await g.exited).code;
    },
  };
  void g.exited.then(() => {
    if (!g.stopping) g.crashes += 1;
  });
  let partial = "";
  child.stdout.on("data", (d) => {
    g.log += d;
    if (!onLine) return;
    partial += d;
    const lines = partial.split("\n");
    partial = lines.pop();
    for (const line of lines) onLine(line);
  });
  child.stderr.on("data", (d) => (g.log += d));
  if ((await g.healthy()) === undefined) throw new Error(`the gateway did not come up:\n${g.log}`);
  return g;
}
