// The incoming side of the stanza hooks: one middleware runs them before xmpp.js's own handlers.
// https://www.rfc-editor.org/rfc/rfc6120#section-8
//
// A hook that throws is logged, never handed to xmpp.js (whose `error` event means "the link"); an IQ
// get/set it was handling is answered with internal-server-error.
import type { XmppEntity } from "./entity.js";
import { StanzaError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { IncomingHook } from "./stanzas.js";
import { STANZA_NAMES } from "./stanzas-outgoing.js";
import type { Element } from "./xml.js";

interface Chain {
  /** The hooks, in registration order (read at each stanza). */
  hooks: readonly IncomingHook[];
  /** Where a failing hook is reported (default: stderr). */
  logger: Logger | undefined;
}

/** Run `chain`'s hooks on every stanza the entity receives, then xmpp.js's handlers unless a hook handled it. */
export function routeIncoming(entity: XmppEntity, chain: Chain): void {
  entity.middleware.use((ctx, next) => {
    if (!STANZA_NAMES.has(ctx.stanza.name) || chain.hooks.length === 0) return next();
    return runIncoming(chain, ctx.stanza, 0, next);
  });
}

/**
 * The hooks from index `i` on, then xmpp.js's own handlers. Runs on every stanza received, so a hook that
 * answers synchronously (most do: "not mine") costs a call, not a promise and a microtask; only a hook that
 * returns a promise is awaited.
 */
function runIncoming(chain: Chain, stanza: Element, i: number, next: () => Promise<unknown>): unknown {
  const { hooks, logger } = chain;
  for (; i < hooks.length; i++) {
    let result: ReturnType<IncomingHook>;
    try {
      result = hooks[i]!(stanza);
    } catch (err) {
      return afterFailure(logger, err, stanza);
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
      const at = i;
      return Promise.resolve(result).then(
        (settled) => (settled === true ? undefined : settled || runIncoming(chain, stanza, at + 1, next)),
        (err: unknown) => afterFailure(logger, err, stanza),
      );
    }
    if (result === true) return undefined;
    if (result) return result;
  }
  return next();
}

/** What a throwing hook leaves: an IQ get/set is answered with internal-server-error, anything else dropped. */
function afterFailure(logger: Logger | undefined, err: unknown, stanza: Element): Element | undefined {
  const where = { err, stanza: stanza.name, type: stanza.attrs.type, from: stanza.attrs.from };
  if (logger) logger.error(where, "an incoming stanza hook failed");
  else console.error("xmppkit: an incoming stanza hook failed", where);
  const request = stanza.name === "iq" && (stanza.attrs.type === "get" || stanza.attrs.type === "set");
  return request ? new StanzaError("internal-server-error", "wait").toElement() : undefined;
}
