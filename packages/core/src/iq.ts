// IQ requests whose replies are checked, and IQ get/set handlers by namespace.
// https://www.rfc-editor.org/rfc/rfc6120#section-8.2.3
//
// xmpp.js's iqCaller matches replies on `id` alone: anyone who guesses an id can answer a
// request. Here ids are unpredictable and a reply counts only if it comes from the JID that was asked.
// The parts: the requests awaiting a reply (iq-requests.ts) and the handlers by namespace (iq-router.ts).
import type { XmppEntity } from "./entity.js";
import { IqRequests } from "./iq-requests.js";
import { IqRouter } from "./iq-router.js";
import type { Logger } from "./logger.js";
import type { Stanzas } from "./stanzas.js";
import { firstChildElement, xml, type Element } from "./xml.js";

export { DEFAULT_IQ_TIMEOUT_MS } from "./iq-requests.js";
export { randomId } from "./random-id.js";

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

export function setupIq({ entity, stanzas, logger }: { entity: XmppEntity; stanzas: Stanzas; logger?: Logger | undefined }): Iq {
  const requests = new IqRequests({ entity, stanzas });
  stanzas.onIncoming((stanza) => requests.settleReply(stanza));
  const router = new IqRouter({ entity, logger });

  async function call(type: "get" | "set", payload: Element, to?: string, options?: IqRequestOptions) {
    const reply = await requests.request(xml("iq", { type, ...(to ? { to } : {}) }, payload), options);
    return firstChildElement(reply);
  }

  return {
    request: (iq, options) => requests.request(iq, options),
    get: (payload, to, options) => call("get", payload, to, options),
    set: (payload, to, options) => call("set", payload, to, options),
    handle: (type, ns, name, handler) => router.handle(type, ns, name, handler),
    get pending() {
      return requests.size;
    },
    rejectAll: (err) => requests.rejectAll(err),
    onLatency: (fn) => requests.onLatency(fn),
    guardRoutes: (guard) => requests.guardRoutes(guard),
  };
}
