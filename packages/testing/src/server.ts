// What every throw-away server of the harness offers (startProsody, startEjabberd), so one end-to-end test
// can run against each: `describe.each(servers)(…)` with `startServer(kind, options)`.
import type { Ejabberd, EjabberdOptions } from "./ejabberd.js";
import type { Prosody, ProsodyOptions } from "./prosody.js";

export type ServerKind = "prosody" | "ejabberd";

/** The common part of `Prosody` and `Ejabberd`. */
export type XmppServer = Pick<
  Prosody,
  "domain" | "dir" | "logFile" | "c2s" | "component" | "secret" | "components" | "muc" | "users" | "createUser" | "restart" | "stop" | "logTail" | "running"
> & { readonly kind: ServerKind };

/** The options both harnesses take the same way. */
export type ServerOptions = Pick<ProsodyOptions, "domain" | "users" | "muc" | "component" | "components"> & Pick<EjabberdOptions, "virtualHosts">;

/** Start a throw-away server of `kind`. */
export async function startServer(kind: ServerKind, options: ServerOptions = {}): Promise<Prosody | Ejabberd> {
  if (kind === "ejabberd") {
    const { startEjabberd } = await import("./ejabberd.js");
    return startEjabberd(options);
  }
  const { startProsody } = await import("./prosody.js");
  const { virtualHosts, ...rest } = options;
  return startProsody({
    ...rest,
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
