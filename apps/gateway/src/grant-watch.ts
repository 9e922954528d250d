// After each connect: what the server is, and what it did not grant (XEP-0356 privileges, XEP-0355
// delegations) that the enabled modules need. Start-up checks (and awaits) the first connect itself.
import type { Kit, Logger } from "@xmppkit/core";
import type { GatewayConfig } from "./config.js";
import type { PreparedModule } from "./gateway.js";
import { reportGrants } from "./grants.js";

export interface GrantWatch {
  /** The first connect is up: check now; every later connect is checked on its own. */
  first(): Promise<unknown>;
}

export function watchGrants({ kit, log }: { kit: Kit; log: Logger }, config: GatewayConfig, prepared: PreparedModule[]): GrantWatch {
  const needs = prepared.map((p) => ({ module: p.definition.name, requires: p.requires }));
  const check = () =>
    reportGrants({ kit, log }, { server: config.server_domain, component: config.component.domain, needs }).catch((err: unknown) =>
      log.error({ err }, "checking the server's grants failed"),
    );
  let firstOnline = true;
  kit.lifecycle.on("online", () => {
    if (firstOnline) return; // the first one is checked (and awaited) by start-up
    void check();
  });
  return {
    first() {
      firstOnline = false;
      return check();
    },
  };
}
