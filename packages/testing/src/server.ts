// What every throw-away server of the harness offers (startProsody, startEjabberd), so one end-to-end test
// can run against each: `describe.each(servers)(…)` with `startServer(kind, options)`.
import type { Ejabberd, EjabberdOptions } from "./ejabberd.js";
import { DEFAULT_BACKPORTS_ROOT, installation, upstreamVersion } from "./installation.js";
import type { Prosody, ProsodyOptions } from "./prosody.js";

export type ServerKind = "prosody" | "ejabberd";

/** One server to test against: which software, from which installation, and its name in test titles. */
export interface ServerTarget {
  kind: ServerKind;
  /** The installation's root ("/" for the host's packages). */
  root: string;
  /** Software and release: "prosody-0.12", "prosody-13", "ejabberd-23.01", "ejabberd-24.12". */
  id: string;
}

/** The common part of `Prosody` and `Ejabberd`. */
export type XmppServer = Pick<
  Prosody,
  | "version"
  | "root"
  | "domain"
  | "dir"
  | "logFile"
  | "c2s"
  | "component"
  | "secret"
  | "components"
  | "muc"
  | "users"
  | "createUser"
  | "restart"
  | "stop"
  | "logTail"
  | "running"
> & { readonly kind: ServerKind };

/** The options both harnesses take the same way. */
export type ServerOptions = Pick<ProsodyOptions, "domain" | "users" | "muc" | "component" | "components"> & Pick<EjabberdOptions, "virtualHosts">;

const PACKAGE: Record<ServerKind, string> = { prosody: "prosody", ejabberd: "ejabberd" };
const ROOT_VARIABLE: Record<ServerKind, string> = { prosody: "XMPPKIT_PROSODY_ROOT", ejabberd: "XMPPKIT_EJABBERD_ROOT" };

/** The release a version belongs to: Prosody 0.12.3 → "0.12", 13.0.1 → "13"; ejabberd 24.12 → "24.12". */
export function releaseOf(kind: ServerKind, version: string): string {
  if (kind === "ejabberd") return version;
  const [major, minor] = version.split(".");
  return major === "0" ? `0.${minor}` : (major ?? version);
}

/** The target for `kind` installed at `root` (default: XMPPKIT_PROSODY_ROOT / XMPPKIT_EJABBERD_ROOT, else "/"). */
export function serverTarget(kind: ServerKind, root?: string): ServerTarget {
  const inst = installation(root, ROOT_VARIABLE[kind]);
  const debian = inst.packageVersion(PACKAGE[kind]);
  const release = debian ? releaseOf(kind, upstreamVersion(debian)) : "missing";
  return { kind, root: inst.root, id: `${kind}-${release}` };
}

/**
 * Every server an end-to-end suite runs against: for each kind, the host's packages (Debian 12: Prosody
 * 0.12.3, ejabberd 23.01) and today's release from the backports root (XMPPKIT_BACKPORTS_ROOT, default
 * /var/lib/xmppkit/bookworm-backports, made by scripts/backports-servers.sh: Prosody 13.0.1, ejabberd 24.12).
 * A missing installation is not skipped: starting it fails with the command that installs it.
 */
export function suiteServers(kinds: ServerKind[] = ["prosody", "ejabberd"]): ServerTarget[] {
  const today = process.env.XMPPKIT_BACKPORTS_ROOT ?? DEFAULT_BACKPORTS_ROOT;
  return kinds.flatMap((kind) => [serverTarget(kind), serverTarget(kind, today)]);
}

/** Start a throw-away server of `kind`, or of a target (its installation). */
export async function startServer(target: ServerKind | ServerTarget, options: ServerOptions = {}): Promise<Prosody | Ejabberd> {
  const { kind, root } = typeof target === "string" ? { kind: target, root: undefined } : target;
  if (kind === "ejabberd") {
    const { startEjabberd } = await import("./ejabberd.js");
    return startEjabberd({ ...options, ...(root ? { root } : {}) });
  }
  const { startProsody } = await import("./prosody.js");
  const { virtualHosts, ...rest } = options;
  return startProsody({
    ...rest,
    ...(root ? { root } : {}),
    ...(virtualHosts
      ? {
          virtualHosts: virtualHosts.map(({ contactInfo, ...v }) => ({
            ...v,
            ...(contactInfo
              ? {
                  config: `\tcontact_info = { ${Object.entries(contactInfo)
                    .map(([k, urls]) => `${k.replace(/-addresses$/, "")} = { ${urls.map((u) => JSON.stringify(u)).join(", ")} }`)
                    .join("; ")} }`,
                }
              : {}),
          })),
        }
      : {}),
    ...(virtualHosts?.some((v) => v.contactInfo) ? { modules: ["server_contact_info"] } : {}),
  });
}
