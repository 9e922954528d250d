import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
export { captureLogger, closeClient, waitFor, waitForProgress } from "@xmppkit/testing";
import { type ServerTarget, suiteServers, type XmppServer } from "@xmppkit/testing";

/** Every server the gateway's end-to-end suite runs against: Prosody 0.12 and 13, ejabberd 23.01 and 24.12. */
export const SERVERS: ServerTarget[] = suiteServers();
import { parseConfig, type GatewayConfig, type SourceMap } from "../src/config.js";

/** Gateway YAML for a test Prosody; `extra` is appended verbatim. Storage goes to a fresh temp dir unless `extra` sets it. */
export function gatewayYaml(prosody: Pick<XmppServer, "component" | "domain">, extra = "", overrides: { listen?: string; token?: string } = {}): string {
  const storage = /^storage:/m.test(extra)
    ? ""
    : `storage:
  data_dir: ${mkdtempSync(join(tmpdir(), "xmppkit-gateway-data-"))}
`;
  return `${storage}component:
  service: ${prosody.component.service}
  domain: ${prosody.component.domain}
  secret: \${GATEWAY_SECRET}
  keepalive_interval: 5
  reconnect_max_delay: 2
server_domain: ${prosody.domain}
http:
  listen: ${overrides.listen ?? "127.0.0.1:0"}${overrides.token ? `\n  token: ${overrides.token}` : ""}
log:
  level: debug
${extra}`;
}

export function testConfig(
  prosody: Pick<XmppServer, "component" | "domain">,
  extra = "",
  { secret = prosody.component.secret, token }: { secret?: string; token?: string } = {},
): { config: GatewayConfig; sourceMap: SourceMap } {
  return parseConfig(gatewayYaml(prosody, extra, token ? { token } : {}), { source: "test.yaml", env: { GATEWAY_SECRET: secret } });
}

/** The built bin, as an operator runs it. */
export const BIN = resolve(import.meta.dirname, "../dist/cli.js");

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
