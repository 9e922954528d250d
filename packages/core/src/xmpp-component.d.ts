// Types for @xmpp/component 0.13, which ships none (and @types/xmpp__component does not exist). Shipped with
// @xmppkit/core so that `import { component } from "@xmpp/component"` type-checks in a bot or bridge, and a
// component fits setupKit(). They describe what component() returns in 0.13.1: the entity (a Connection),
// with its reconnect, middleware, iqCaller and iqCallee plugins. If @xmpp/component ever ships types, its own
// win (a package's types are found before an ambient module).
declare module "@xmpp/component" {
  import type { EventEmitter } from "node:events";
  import type { JID } from "@xmpp/jid";
  import type { Element } from "@xmpp/xml";

  export { default as jid } from "@xmpp/jid";
  export { default as xml } from "@xmpp/xml";

  export interface ComponentOptions {
    /** Where the server's component port is, e.g. "xmpp://127.0.0.1:5347". */
    service: string;
    /** The component's domain, e.g. "gateway.example.org". */
    domain: string;
    /** The shared secret, or a function that authenticates with it. */
    password: string | ((authenticate: (password: string) => Promise<void>) => Promise<void>);
  }

  export interface IncomingContext {
    stanza: Element;
    entity: Component;
    name: string;
    id: string;
    type: string;
    from: JID | null;
    to: JID | null;
    local: string;
    domain: string;
    resource: string;
    element?: Element;
  }

  export type Handler = (ctx: IncomingContext, next: () => Promise<unknown>) => unknown;

  export interface Component extends EventEmitter {
    readonly NS: "jabber:component:accept";
    entity: Component;
    jid: JID | null;
    status: string;
    timeout: number;
    options: { service: string; domain: string; [key: string]: unknown };
    socket: { destroy(): void; setKeepAlive?(enable?: boolean, initialDelay?: number): void } | null;
    start(): Promise<JID>;
    stop(): Promise<void>;
    connect(service: string): Promise<void>;
    open(options: { domain?: string; lang?: string; timeout?: number }): Promise<Element>;
    disconnect(timeout?: number): Promise<void>;
    send(element: Element): Promise<void>;
    sendMany(elements: Element[]): Promise<void>;
    sendReceive(element: Element, timeout?: number): Promise<Element>;
    write(data: string): Promise<void>;
    reconnect: EventEmitter & { delay: number; entity: Component; start(): void; stop(): void; reconnect(): Promise<void> };
    middleware: { use(fn: Handler): Handler; filter(fn: Handler): Handler };
    iqCaller: {
      request(stanza: Element, timeout?: number): Promise<Element>;
      get(element: Element, to?: string, timeout?: number): Promise<Element>;
      set(element: Element, to?: string, timeout?: number): Promise<Element>;
    };
    iqCallee: {
      get(ns: string, name: string, handler: Handler): void;
      set(ns: string, name: string, handler: Handler): void;
    };
  }

  export function component(options: ComponentOptions): Component;
}
