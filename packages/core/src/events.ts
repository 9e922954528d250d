// The event bus modules talk through. Every event name and payload is typed: modules add their events to
// `XmppkitEvents` by declaration merging, and consumers (audit-geoip, a bot's own code) subscribe by name or
// to everything.
//
//   declare module "@xmppkit/core" {
//     interface XmppkitEvents { "roster-synced": { user: string; added: number } }
//   }
import type { DelegationEvents } from "./delegation.js";
import { TypedEmitter } from "./emitter.js";
import type { LifecycleEvents } from "./lifecycle.js";
import type { Permissions } from "./privilege.js";
import type { SessionEvents } from "./sessions.js";

/** Events of core itself. Feature packages extend this interface. */
export interface XmppkitEvents {
  /** The link to the server is up (also after a reconnect). */
  "link-up": LifecycleEvents["online"];
  /** The link to the server went down. */
  "link-down": LifecycleEvents["link-lost"];
  /** A server announced XEP-0356 permissions. */
  "permissions-granted": Permissions;
  /** A server announced XEP-0355 delegated namespaces. */
  "namespaces-delegated": { server: string; namespaces: string[] };
  /** A delegated IQ was answered. */
  "delegated-iq-answered": DelegationEvents["answered"];
  /** A local user's resource came online (from presence forwarded under the XEP-0356 presence permission; no IP). */
  "session-available": SessionEvents["available"];
  /** A local user's resource went offline. */
  "session-unavailable": SessionEvents["unavailable"];
  /** An HTTP request was served (IP after the trusted-proxy rule). */
  "http-request": { method: string; path: string; status: number; ip: string; durationMs: number };
}

export type EventName = keyof XmppkitEvents;

/** What `onAny` listeners receive. */
export interface EventRecord<K extends EventName = EventName> {
  type: K;
  /** The module that emitted it ("core" for core). */
  module: string;
  time: Date;
  payload: XmppkitEvents[K];
}

type BusMap = { [K in EventName]: EventRecord<K> } & { "*": EventRecord };

export class EventBus {
  #emitter: TypedEmitter<BusMap & Record<string, unknown>>;

  constructor(onListenerError?: (err: unknown, event: string) => void) {
    this.#emitter = new TypedEmitter(onListenerError);
  }

  emit<K extends EventName>(type: K, payload: XmppkitEvents[K], module = "core"): void {
    const record = { type, module, time: new Date(), payload } as EventRecord<K>;
    this.#emitter.emit(type, record as never);
    this.#emitter.emit("*", record as never);
  }

  on<K extends EventName>(type: K, listener: (record: EventRecord<K>) => void): () => void {
    return this.#emitter.on(type, listener as never);
  }

  /** Every event, in emission order. */
  onAny(listener: (record: EventRecord) => void): () => void {
    return this.#emitter.on("*", listener as never);
  }

  /** A view that stamps `module` on everything it emits. */
  forModule(module: string): ModuleEvents {
    return {
      emit: (type, payload) => this.emit(type, payload, module),
      on: (type, listener) => this.on(type, listener),
      onAny: (listener) => this.onAny(listener),
    };
  }
}

export interface ModuleEvents {
  emit<K extends EventName>(type: K, payload: XmppkitEvents[K]): void;
  on<K extends EventName>(type: K, listener: (record: EventRecord<K>) => void): () => void;
  onAny(listener: (record: EventRecord) => void): () => void;
}
