// IQ get/set handlers by the payload's namespace and name. https://www.rfc-editor.org/rfc/rfc6120#section-8.2.3
//
// One middleware routes to all of them, after xmpp.js's iqCallee (which checks the IQ and turns the answer
// into the reply), where iqCallee.get/set would have put one middleware per handler: xmpp.js composes the
// whole middleware list again for every stanza received.
import type { IncomingContext, XmppEntity } from "./entity.js";
import { StanzaError } from "./errors.js";
import type { IqHandler } from "./iq.js";
import type { Logger } from "./logger.js";
import type { Element } from "./xml.js";

interface Route {
  type: "get" | "set";
  ns: string;
  name: string;
  handler: IqHandler;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | undefined)?.then === "function";

/** The handlers by the payload's local name, and the middleware that answers with them. */
export class IqRouter {
  readonly #entity: XmppEntity;
  readonly #logger: Logger | undefined;
  readonly #routes = new Map<string, Route[]>();
  #routing = false;

  constructor({ entity, logger }: { entity: XmppEntity; logger?: Logger | undefined }) {
    this.#entity = entity;
    this.#logger = logger;
  }

  /** Answer IQ gets or sets whose payload is <name xmlns=ns>; the middleware is installed with the first handler. */
  handle(type: "get" | "set", ns: string, name: string, handler: IqHandler): void {
    const list = this.#routes.get(name) ?? [];
    list.push({ type, ns, name, handler });
    this.#routes.set(name, list);
    if (!this.#routing) {
      this.#routing = true;
      this.#entity.middleware.use((ctx, next) => this.#route(ctx, next));
    }
  }

  /** The handlers for this IQ's payload in the order they were registered, from index `i`; the first answer counts. */
  #route(ctx: IncomingContext, next: () => Promise<unknown>, i = 0): unknown {
    const element = ctx.element;
    const list = element && (ctx.type === "get" || ctx.type === "set") ? this.#routes.get(element.getName()) : undefined;
    for (; list && i < list.length; i++) {
      const r = list[i]!;
      if (r.type !== ctx.type || !element!.is(r.name, r.ns)) continue; // what iqCallee's own routes check
      const result = this.#answer(r, ctx);
      if (isThenable(result)) {
        const at = i;
        return (result as Promise<unknown>).then((v) => (v !== undefined ? v : this.#route(ctx, next, at + 1)));
      }
      if (result !== undefined) return result;
    }
    return next();
  }

  /** One handler's answer: a value at once when it answers synchronously (ping, disco), else a promise. */
  #answer(route: Route, ctx: IncomingContext): unknown {
    const { stanza } = ctx;
    let result: ReturnType<IqHandler>;
    try {
      result = route.handler({
        stanza,
        element: ctx.element!,
        from: stanza.attrs.from ?? "",
        to: stanza.attrs.to ?? "",
        type: route.type,
        id: stanza.attrs.id ?? "",
      });
    } catch (err) {
      return this.#failed(route, stanza, err);
    }
    if (!isThenable(result)) return result;
    return (result as Promise<unknown>).then(
      (v) => v,
      (err: unknown) => this.#failed(route, stanza, err),
    );
  }

  #failed(route: Route, stanza: Element, err: unknown): Element {
    if (StanzaError.isInstance(err)) return err.toElement();
    // A handler's bug is this request's problem only: answer it, and keep it off the entity's `error` event
    // (which speaks of the link).
    const where = { err, ns: route.ns, name: route.name, type: route.type, from: stanza.attrs.from };
    if (this.#logger) this.#logger.error(where, "an IQ handler failed");
    else console.error("xmppkit: an IQ handler failed", where);
    return new StanzaError("internal-server-error", "wait").toElement();
  }
}
