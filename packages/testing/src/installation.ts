// Where a server comes from: the host's own packages (root "/") or a Debian root elsewhere on the machine,
// such as a chroot with bookworm-backports' Prosody 13 and ejabberd 24.12 beside the host's 0.12 and 23.01.
// Commands of a root other than "/" run under chroot(8) (root needed); files the server reads live inside the
// root, so each run's directory is made under `<root>/tmp` and the server is given the path as it sees it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** Where `scripts/backports-servers.sh` puts today's servers unless told otherwise. */
export const DEFAULT_BACKPORTS_ROOT = "/var/lib/xmppkit/bookworm-backports";

export interface Installation {
  /** "/" for the host's packages, or the root directory of another Debian installation. */
  readonly root: string;
  /**
   * The program and arguments that run `program` of this installation; `as` runs it as that user of the
   * installation (with its home directory as HOME), which a chroot needs where the server's own script
   * would switch users with su (PAM refuses that inside a minimal chroot).
   */
  command(program: string, args: string[], as?: string): [string, string[]];
  /** A fresh directory the server can read and write: its path on the host and as the server sees it. */
  tempDir(prefix: string): { host: string; inner: string };
  /** The installed version of a Debian package, or undefined when it is not installed there. */
  packageVersion(name: string): string | undefined;
  /** Whether `path` (as the server sees it) exists in the installation. */
  has(path: string): boolean;
  /** A path as the server sees it, on the host. */
  hostPath(inner: string): string;
  /** uid, gid and home directory of a user of the installation. */
  user(name: string): { uid: number; gid: number; home: string } | undefined;
}

/**
 * The installation at `root`, or else the one an environment variable names (e.g. XMPPKIT_PROSODY_ROOT), or
 * else the host's packages.
 */
export function installation(root?: string, envVar?: string): Installation {
  const chosen = resolve(root ?? (envVar ? process.env[envVar] : undefined) ?? "/");
  const host = chosen === "/";
  const hostPath = (inner: string) => (host ? inner : join(chosen, inner));
  return {
    root: chosen,
    command(program, args, as) {
      if (host) return [program, args];
      const owner = as ? this.user(as) : undefined;
      if (as && !owner) throw new Error(`no user ${as} in ${chosen}/etc/passwd`);
      if (!owner) return ["chroot", [chosen, program, ...args]];
      const userspec = `--userspec=${owner.uid}:${owner.gid}`;
      return ["chroot", [userspec, chosen, "/usr/bin/env", `HOME=${owner.home}`, program, ...args]];
    },
    tempDir(prefix) {
      if (host) {
        const dir = mkdtempSync(join(tmpdir(), prefix));
        return { host: dir, inner: dir };
      }
      if (!existsSync(chosen)) throw new Error(`no server installation at ${chosen}: bash scripts/backports-servers.sh ${chosen} (as root)`);
      const dir = mkdtempSync(join(chosen, "tmp", prefix));
      return { host: dir, inner: dir.slice(chosen.length) };
    },
    packageVersion(name) {
      try {
        const out = execFileSync("dpkg-query", [`--admindir=${hostPath("/var/lib/dpkg")}`, "-W", "-f", "${Status} ${Version}", name], {
          stdio: ["ignore", "pipe", "ignore"],
        }).toString();
        const m = /^install ok installed (\S+)$/.exec(out.trim());
        return m?.[1];
      } catch {
        return undefined;
      }
    },
    has(path) {
      return existsSync(hostPath(path));
    },
    hostPath,
    user(name) {
      const passwd = hostPath("/etc/passwd");
      if (!existsSync(passwd)) return undefined;
      const line = readFileSync(passwd, "utf8")
        .split("\n")
        .find((l) => l.startsWith(`${name}:`));
      if (!line) return undefined;
      const [, , uid, gid, , home] = line.split(":");
      return { uid: Number(uid), gid: Number(gid), home: home ?? "/" };
    },
  };
}

/** "13.0.1-1~bpo12+1" → "13.0.1"; "1:23.01-2" → "23.01". */
export function upstreamVersion(debian: string): string {
  return debian.replace(/^\d+:/, "").replace(/-[^-]*$/, "");
}
