// IQ requests whose replies are checked: ids are unpredictable, and a reply counts only if it comes from
// the JID that was asked. https://www.rfc-editor.org/rfc/rfc6120#section-8.2.3
import { entityKind, type XmppEntity } from "./entity.js";
import { IqNotRoutedError, IqTimeoutError, StanzaError } from "./errors.js";
import type { IqRequestOptions } from "./iq.js";
import { randomId } from "./random-id.js";
import type { Stanzas } from "./stanzas.js";
import { normalizeJid, type Element } from "./xml.js";

export const DEFAULT_IQ_TIMEOUT_MS = 30_000;

interface Pending {
  request: Element;
  expectedFrom: Set<string>;
  resolve(el: Element): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  started: number;
}

/** The requests awaiting a reply, and the replies that settle them. */
export class IqRequests {
  readonly #entity: XmppEntity;
  readonly #stanzas: Stanzas;
  readonly #pending = new Map<string, Pending>();
  readonly #latencyObservers: ((ms: number, ok: boolean) => void)[] = [];
  #routeGuard: ((iq: Element) => string | undefined) | undefined;

  constructor({ entity, stanzas }: { entity: XmppEntity; stanzas: Stanzas }) {
    this.#entity = entity;
    this.#stanzas = stanzas;
  }

  /** Number of requests awaiting a reply. */
  get size(): number {
    return this.#pending.size;
  }

  /** An incoming hook: a result or error from the JID asked settles its request (`true`: handled). */
  settleReply(stanza: Element): true | undefined {
    if (stanza.name !== "iq") return;
    const type = stanza.attrs.type;
    if (type !== "result" && type !== "error") return;
    const id = stanza.attrs.id as string | undefined;
    const p = id ? this.#pending.get(id) : undefined;
    if (!p) return;
    const from = stanza.attrs.from ? (normalizeJid(stanza.attrs.from) ?? "?") : "";
    if (!p.expectedFrom.has(from)) return; // a reply from someone we did not ask: not ours, let it pass
    this.#pending.delete(id!);
    clearTimeout(p.timer);
    this.#observe(performance.now() - p.started, type === "result");
    if (type === "result") p.resolve(stanza);
    else p.reject(StanzaError.fromStanza(stanza));
    return true;
  }

  /** Send an IQ get/set and resolve with the reply stanza; rejects with StanzaError or IqTimeoutError. */
  async request(iq: Element, options: IqRequestOptions = {}): Promise<Element> {
    const timeout = options.timeout ?? DEFAULT_IQ_TIMEOUT_MS;
    const id = randomId();
    iq.attrs.id = id;
    const to = iq.attrs.to as string | undefined;
    if (!to && entityKind(this.#entity) === "component") {
      throw new TypeError("an IQ sent by a component needs a `to` (XEP-0114 §3)");
    }
    const refused = this.#routeGuard?.(iq);
    if (refused) throw new IqNotRoutedError(to, refused);
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#observe(timeout, false);
        reject(new IqTimeoutError(to, timeout));
      }, timeout);
      this.#pending.set(id, { request: iq, expectedFrom: this.#expectedSenders(to), resolve, reject, timer, started: performance.now() });
      this.#stanzas.send(iq).catch((err: unknown) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  /** Fail every request awaiting a reply with `err`. */
  rejectAll(err: Error): void {
    for (const [id, p] of [...this.#pending]) {
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  onLatency(fn: (ms: number, ok: boolean) => void): void {
    this.#latencyObservers.push(fn);
  }

  /** Refuse requests `guard` names a reason for, and reject those already waiting for such a reply. */
  guardRoutes(guard: ((iq: Element) => string | undefined) | undefined): void {
    this.#routeGuard = guard;
    if (!guard) return;
    // What is already on its way there will never be answered either.
    for (const [id, p] of [...this.#pending]) {
      const reason = guard(p.request);
      if (!reason) continue;
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new IqNotRoutedError(p.request.attrs.to as string | undefined, reason));
    }
  }

  #observe(ms: number, ok: boolean): void {
    for (const o of this.#latencyObservers) o(ms, ok);
  }

  /** JIDs a reply may legitimately come from for a request sent to `to`. */
  #expectedSenders(to: string | undefined): Set<string> {
    const set = new Set<string>();
    const own = this.#entity.jid;
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
}
