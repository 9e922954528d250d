// Answering XEP-0489 queries: for the server's users through XEP-0355 delegation of `urn:xmpp:raa:0`, and
// (a component) for its own JIDs directly. Only trusted servers get `<info/>`; everyone else `forbidden`.
// https://xmpp.org/extensions/xep-0489.html
import { StanzaError, bareJid, domainOf, isBareJid, type Delegation, type Element, type Iq, type Logger, type TypedEmitter } from "@xmppkit/core";
import type { ReportAffiliationsEvents } from "./affiliations.js";
import { infoElement, NS_RAA, type AffiliationInfo } from "./info.js";
import type { InfoLookup } from "./info-lookup.js";
import { trustedServer } from "./trusted.js";

type Via = ReportAffiliationsEvents["queried"]["via"];
export type Answer = (requester: string, target: string, via: Via, lookup: () => Promise<AffiliationInfo>) => Promise<Element>;

export interface QueriesDeps {
  kind: "client" | "component";
  iq: Pick<Iq, "handle">;
  delegation?: Pick<Delegation, "handle"> | undefined;
  emitter: Pick<TypedEmitter<ReportAffiliationsEvents>, "emit">;
  log: Logger;
}

/** Register the query handlers: delegated queries always, direct ones on a component. */
export function answerQueries(
  deps: QueriesDeps,
  { trusted, infoFor, self }: { trusted: ReadonlySet<string>; infoFor: InfoLookup; self: AffiliationInfo },
): void {
  const answer = createAnswer(deps, trusted);
  // Queries for the server's users, delegated by the server.
  deps.delegation?.handle(
    NS_RAA,
    async (ctx) => {
      if (ctx.type !== "get" || ctx.element.name !== "query")
        throw new StanzaError("bad-request", "modify", 'XEP-0489 defines only <iq type="get"><query/></iq>');
      const target = ctx.to || ctx.server;
      if (!isBareJid(bareJid(target) ?? "") || domainOf(target) !== ctx.server) throw new StanzaError("item-not-found", "cancel");
      return answer(ctx.from, target, "delegation", () => infoFor(bareJid(target)!));
    },
    { serverFeatures: [NS_RAA], bareFeatures: [NS_RAA] },
  );
  // Queries to the component's own JIDs.
  if (deps.kind === "component") deps.iq.handle("get", NS_RAA, "query", (ctx) => answer(ctx.from, ctx.to, "direct", async () => self));
}

/** One query's answer (or refusal), told as a `queried` event; a failing lookup is a `wait` error. */
export function createAnswer({ emitter, log }: Pick<QueriesDeps, "emitter" | "log">, trusted: ReadonlySet<string>): Answer {
  return async (requester, target, via, lookup) => {
    const jid = bareJid(target) ?? target;
    if (!trustedServer(requester, trusted)) {
      emitter.emit("queried", { requester, jid, via, outcome: "forbidden" });
      throw new StanzaError("forbidden", "auth");
    }
    try {
      const info = await lookup();
      emitter.emit("queried", { requester, jid, via, outcome: "answered", affiliation: info.affiliation });
      return infoElement(info);
    } catch (err) {
      const error = (err as Error).message;
      log.error({ jid, requester, error }, "could not look up an affiliation");
      emitter.emit("queried", { requester, jid, via, outcome: "error", error });
      throw new StanzaError("internal-server-error", "wait", "the affiliation source is unavailable");
    }
  };
}
