// IQ requests whose replies are checked, and IQ get/set handlers by namespace.
// https://www.rfc-editor.org/rfc/rfc6120#section-8.2.3
//
// xmpp.js's iqCaller matches replies on `id` alone (xmppjs-notes §2.4): anyone who guesses an id can answer a
// request. Here ids are unpredictable and a reply counts only if it comes from the JID that was asked.
import { randomFillSync } from "node:crypto";
import { entityKind, type IncomingContext, type XmppEntity } from "./entity.js";
import { IqNotRoutedError, IqTimeoutError, StanzaError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Stanzas } from "./stanzas.js";
import { firstChildElement, normalizeJid, xml, type Element } from "./xml.js";

export const DEFAULT_IQ_TIMEOUT_MS = 30_000;

const ID_BYTES = 9;
/** Random bytes for 256 ids, drawn from the CSPRNG at once: one `randomBytes` call per id cost ~3 % of a busy gateway's CPU. */
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;

/** An unpredictable stanza id (72 random bits from the CSPRNG, 12 base64url characters); each pooled byte is used once. */
export function randomId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString("base64url", idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}

export interface IqRequestOptions {
  /** Milliseconds to wait for the reply (default 30 s). */
  timeout?: number;
}

/** What a handler gets: the IQ, its single payload child, and the parsed addresses. */
export interface IqHandlerContext {
  stanza: Element;
  element: Element;
  from: string;
  to: string;
  type: "get" | "set";
  id: string;
}

/**
 * Return an element for a result with that payload, `true` for an empty result; throw a StanzaError (or
 * return an <error/> element) to answer with an error. Returning nothing falls through to the next handler,
 * and finally to service-unavailable.
 */
export type IqHandler = (ctx: IqHandlerContext) => Element | boolean | undefined | void | Promise<Element | boolean | undefined | void>;

export interface Iq {
  /** Send an IQ get/set and resolve with the reply stanza; rejects with StanzaError or IqTimeoutError. */
  request(iq: Element, options?: IqRequestOptions): Promise<Element>;
  /** Send `payload` in an IQ get to `to` and resolve with the reply's payload (or undefined for an empty result). */
  get(payload: Element, to?: string, options?: IqRequestOptions): Promise<Element | undefined>;
  set(payload: Element, to?: string, options?: IqRequestOptions): Promise<Element | undefined>;
  /** Answer IQ gets or sets whose payload is <name xmlns=ns>. */
  handle(type: "get" | "set", ns: string, name: string, handler: IqHandler): void;
  /** Number of requests awaiting a reply. */
  readonly pending: number;
  /** Fail every request awaiting a reply with `err` (the link dropped: no reply will come). */
  rejectAll(err: Error): void;
  /** Observe each reply's round trip (for metrics). */
  onLatency(fn: (ms: number, ok: boolean) => void): void;
  /**
   * Refuse requests the server is known to drop: `guard` returns why (the request then rejects at once with
   * IqNotRoutedError instead of timing out), or undefined to send it; requests already waiting for such a
   * reply are rejected the same way. `undefined` removes the guard.
   */
  guardRoutes(guard: ((iq: Element) => string | undefined) | undefined): void;
}

interface Route {
  type: "get" | "set";
  ns: string;
  name: string;
  handler: IqHandler;
}

interface Pending {
  request: Element;
  expectedFrom: Set<string>;
  resolve(el: Element): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  started: number;
}

export function setupIq({ entity, stanzas, logger }: { entity: XmppEntity; stanzas: Stanzas; logger?: Logger | undefined }): Iq {
  const pending = new Map<string, Pending>();
  const latencyObservers: ((ms: number, ok: boolean) => void)[] = [];
  let routeGuard: ((iq: Element) => string | undefined) | undefined;

  /** JIDs a reply may legitimately come from for a request sent to `to`. */
  function expectedSenders(to: string | undefined): Set<string> {
    const set = new Set<string>();
    const own = entity.jid;
    if (to) {
      const n = normalizeJid(to);
      if (n) set.add(n);
      // A request to our own bare JID (client) is answered by the server without a from, or from the bare JID.
      if (own && n === own.bare().toString()) set.add("");
    } else {
      // No `to`: the request goes to the client's own account; the server answers from it, the bare JID,
      // or with no from at all.
      set.add("");
      if (own) {
        set.add(own.bare().toString());
        set.add(own.domain);
      }
    }
    return set;
  }

  stanzas.onIncoming((stanza) => {
    if (stanza.name !== "iq") return;
    const type = stanza.attrs.type;
    if (type !== "result" && type !== "error") return;
    const id = stanza.attrs.id as string | undefined;
    const p = id ? pending.get(id) : undefined;
    if (!p) return;
    const from = stanza.attrs.from ? (normalizeJid(stanza.attrs.from) ?? "?") : "";
    if (!p.expectedFrom.has(from)) return; // a reply from someone we did not ask: not ours, let it pass
    pending.delete(id!);
    clearTimeout(p.timer);
    const ms = performance.now() - p.started;
    for (const o of latencyObservers) o(ms, type === "result");
    if (type === "result") p.resolve(stanza);
    else p.reject(StanzaError.fromStanza(stanza));
    return true;
  });

  async function request(iq: Element, options: IqRequestOptions = {}): Promise<Element> {
    const timeout = options.timeout ?? DEFAULT_IQ_TIMEOUT_MS;
    const id = randomId();
    iq.attrs.id = id;
    const to = iq.attrs.to as string | undefined;
    if (!to && entityKind(entity) === "component") {
      throw new TypeError("an IQ sent by a component needs a `to` (XEP-0114 §3)");
    }
    const refused = routeGuard?.(iq);
    if (refused) throw new IqNotRoutedError(to, refused);
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        for (const o of latencyObservers) o(timeout, false);
        reject(new IqTimeoutError(to, timeout));
      }, timeout);
      pending.set(id, { request: iq, expectedFrom: expectedSenders(to), resolve, reject, timer, started: performance.now() });
      stanzas.send(iq).catch((err: unknown) => {
        clearTimeout(timer);
        pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  async function call(type: "get" | "set", payload: Element, to?: string, options?: IqRequestOptions) {
    const reply = await request(xml("iq", { type, ...(to ? { to } : {}) }, payload), options);
    return firstChildElement(reply);
  }

  // Handlers by the payload's local name. One middleware routes to all of them, after xmpp.js's iqCallee
  // (which checks the IQ and turns the answer into the reply), where iqCallee.get/set would have put one
  // middleware per handler: xmpp.js composes the whole middleware list again for every stanza received.
  const routes = new Map<string, Route[]>();
  let routing = false;

  function failed(route: Route, stanza: Element, err: unknown): Element {
    if (StanzaError.isInstance(err)) return err.toElement();
    // A handler's bug is this request's problem only: answer it, and keep it off the entity's `error` event
    // (which speaks of the link).
    const where = { err, ns: route.ns, name: route.name, type: route.type, from: stanza.attrs.from };
    if (logger) logger.error(where, "an IQ handler failed");
    else console.error("xmppkit: an IQ handler failed", where);
    return new StanzaError("internal-server-error", "wait").toElement();
  }

  /** One handler's answer: a value at once when it answers synchronously (ping, disco), else a promise. */
  function answer(route: Route, ctx: IncomingContext): unknown {
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
      return failed(route, stanza, err);
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then !== "function") return result;
    return (result as Promise<unknown>).then(
      (v) => v,
      (err: unknown) => failed(route, stanza, err),
    );
  }

  /** The handlers for this IQ's payload in the order they were registered, from index `i`; the first answer counts. */
  function route(ctx: IncomingContext, next: () => Promise<unknown>, i = 0): unknown {
    const element = ctx.element;
    const list = element && (ctx.type === "get" || ctx.type === "set") ? routes.get(element.getName()) : undefined;
    for (; list && i < list.length; i++) {
      const r = list[i]!;
      if (r.type !== ctx.type || !element!.is(r.name, r.ns)) continue; // what iqCallee's own routes check
      const result = answer(r, ctx);
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
        const at = i;
        return (result as Promise<unknown>).then((v) => (v !== undefined ? v : route(ctx, next, at + 1)));
      }
      if (result !== undefined) return result;
    }
    return next();
  }

  function handle(type: "get" | "set", ns: string, name: string, handler: IqHandler) {
    const list = routes.get(name) ?? [];
    list.push({ type, ns, name, handler });
    routes.set(name, list);
    if (!routing) {
      routing = true;
      entity.middleware.use((ctx, next) => route(ctx, next));
    }
  }

  return {
    request,
    get: (payload, to, options) => call("get", payload, to, options),
    set: (payload, to, options) => call("set", payload, to, options),
    handle,
    get pending() {
      return pending.size;
    },
    rejectAll(err) {
      for (const [id, p] of [...pending]) {
        pending.delete(id);
        clearTimeout(p.timer);
        p.reject(err);
      }
    },
    onLatency(fn) {
      latencyObservers.push(fn);
    },
    guardRoutes(guard) {
      routeGuard = guard;
      if (!guard) return;
      // What is already on its way there will never be answered either.
      for (const [id, p] of [...pending]) {
        const reason = guard(p.request);
        if (!reason) continue;
        pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new IqNotRoutedError(p.request.attrs.to as string | undefined, reason));
      }
    },
  };
}
