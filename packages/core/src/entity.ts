// The structural shape of an xmpp.js entity that xmppkit works with: `client()` from @xmpp/client 0.14 and
// `component()` from @xmpp/component 0.13 both fit it.
import type { EventEmitter } from "node:events";
import type { Element, JID } from "./xml.js";

export interface IncomingContext {
  stanza: Element;
  entity: XmppEntity;
  name: string;
  id: string;
  type: string;
  element?: Element | undefined;
}

export type Middleware = (ctx: IncomingContext, next: () => Promise<unknown>) => unknown;

export interface XmppEntity extends EventEmitter {
  jid: JID | null | undefined;
  status: string;
  options: { domain?: string | undefined; service?: string | undefined; [key: string]: unknown };
  timeout?: number | undefined;
  NS?: string | undefined;
  send(el: Element): Promise<void>;
  sendMany?: ((els: Element[]) => Promise<void>) | undefined;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  connect(service: string): Promise<unknown>;
  open(options: { domain?: string | undefined; lang?: string | undefined }): Promise<unknown>;
  disconnect(): Promise<unknown>;
  middleware: { use(fn: Middleware): unknown };
  iqCallee: {
    get(ns: string, name: string, handler: (ctx: IncomingContext, next: () => Promise<unknown>) => unknown): void;
    set(ns: string, name: string, handler: (ctx: IncomingContext, next: () => Promise<unknown>) => unknown): void;
  };
  reconnect?: { stop(): void; delay?: number | undefined } | undefined;
  /** The transport (a net.Socket for xmpp://, a WebSocket wrapper for ws://); see entitySocket(). */
  socket?: unknown;
}

/** What xmppkit uses of an entity's socket: destroy it (a stalled or hostile link), TCP keepalive. */
export interface SocketLike {
  destroy?(): void;
  setKeepAlive?(enable: boolean, initialDelay?: number): void;
}

/** The entity's socket while it has one. */
export function entitySocket(entity: Pick<XmppEntity, "socket">): SocketLike | undefined {
  const s = entity.socket;
  return s && typeof s === "object" ? (s as SocketLike) : undefined;
}

export type EntityKind = "client" | "component";

export function entityKind(entity: XmppEntity): EntityKind {
  return entity.NS === "jabber:component:accept" ? "component" : "client";
}

/** The server domain an entity talks to: a client's own domain, or the configured server for a component. */
export function entityDomain(entity: XmppEntity): string {
  return entity.jid?.domain ?? entity.options.domain ?? "";
}

/**
 * The server domains an entity believes XEP-0356 and XEP-0355 announcements from: the configured ones; else
 * a client's own domain, or for a component the domain it is a subdomain of (`gateway.example.org` →
 * `example.org`, the usual layout). A remote server over s2s is never one of them.
 */
export function trustedServerDomains(entity: XmppEntity, configured?: string | readonly string[]): Set<string> {
  const list = configured === undefined ? [] : typeof configured === "string" ? [configured] : [...configured];
  if (list.length === 0) {
    const own = entity.options.domain ?? entity.jid?.domain;
    if (own && entityKind(entity) === "client") list.push(own);
    else if (own?.includes(".")) list.push(own.slice(own.indexOf(".") + 1));
  }
  return new Set(list.map((d) => d.toLowerCase()));
}
