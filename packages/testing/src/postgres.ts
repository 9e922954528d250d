// A throw-away PostgreSQL (Debian's `postgresql` package) for store tests: initdb in a temp directory,
// trust auth on 127.0.0.1 and a free port, stopped on `stop()` and when the test process exits.
// As root, the server runs as the `postgres` OS user (initdb refuses root).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitForPort } from "./ports.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);
export const POSTGRES_INSTALL_HINT = "apt-get install -y postgresql (as root, after apt-get update)";

export interface Postgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  dir: string;
  /** Create a fresh database and return its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`PostgreSQL server is not installed: ${POSTGRES_INSTALL_HINT}`);
  return join(root, newest, "bin");
}

const children = new Set<ChildProcess>();
let hooked = false;

export async function startPostgres(): Promise<Postgres> {
  const bin = binDir();
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const c of children) c.kill("SIGKILL");
    });
  }
  const isRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-pg-"));
  const data = join(dir, "data");
  const asUser = (cmd: string, args: string[]) => (isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]) as [string, string[]];
  if (isRoot) {
    const { uid, gid } = await run("id", ["-u", "postgres"]).then(async (u) => ({
      uid: Number(u.stdout),
      gid: Number((await run("id", ["-g", "postgres"])).stdout),
    }));
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  await run(...asUser(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]));
  const port = await freePort();
  const proc = spawn(...asUser(join(bin, "postgres"), ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]), {
    stdio: "ignore",
  });
  children.add(proc);
  let alive = true;
  const exited = new Promise<void>((r) =>
    proc.once("exit", () => {
      alive = false;
      children.delete(proc);
      r();
    }),
  );
  await waitForPort(port, 20_000, () => alive);
  const base = `postgres://postgres@127.0.0.1:${port}`;
  // Accepting TCP is not quite ready for queries; wait for pg_isready (for as long as a busy machine needs).
  await waitFor(
    () =>
      run(join(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"]).then(
        () => true,
        () => (alive ? false : Promise.reject(new Error("postgres exited"))),
      ),
    `pg_isready on 127.0.0.1:${port}`,
    60_000,
    100,
  );
  let counter = 0;
  return {
    url: `${base}/postgres`,
    port,
    dir,
    async createDatabase(name = `t${process.pid}_${++counter}`) {
      await run(join(bin, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name]);
      return `${base}/${name}`;
    },
    async stop() {
      if (alive) {
        proc.kill("SIGINT"); // fast shutdown
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
        if (alive) proc.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
