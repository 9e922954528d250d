// __Name__: the setup function. Composition only: it wires the feature's concept units (one file each, with
// its own test) onto the kit and returns a typed handle. This template's feature answers XEP-0092 software
// version queries, a real feature small enough to read in one go. https://xmpp.org/extensions/xep-0092.html
import { TypedEmitter, logListenerErrors, xml, type Kit, type Logger } from "@xmppkit/core";
import { __Name__Error } from "./errors.js";

export const NS_VERSION = "jabber:iq:version";

/** What the setup function needs: the exact part of a kit, and an optional logger (a kit carries one). */
export type __Name__Deps = Pick<Kit, "iq" | "disco"> & { logger?: Logger | undefined };

export interface __Name__Options {
  /** The software name answered (default "xmppkit"). */
  name?: string | undefined;
  /** The version answered (default "0"). */
  version?: string | undefined;
}

export type __Name__Events = {
  /** A version query was answered. */
  answered: { from: string };
};

export interface __Name__Handle {
  on<K extends keyof __Name__Events>(event: K, listener: (payload: __Name__Events[K]) => void): () => void;
  /** Stop answering (queries then get service-unavailable). */
  stop(): void;
}

export function setup__Name__({ iq, disco, logger }: __Name__Deps, options: __Name__Options = {}): __Name__Handle {
  const name = options.name ?? "xmppkit";
  if (!name.trim()) throw new __Name__Error("the software name must not be empty");
  const emitter = new TypedEmitter<__Name__Events>(logListenerErrors(logger, "a __name__ listener failed"));
  let stopped = false;
  disco.addFeature(NS_VERSION);
  iq.handle("get", NS_VERSION, "query", ({ from }) => {
    if (stopped) return undefined;
    emitter.emit("answered", { from });
    return xml("query", NS_VERSION, xml("name", {}, name), xml("version", {}, options.version ?? "0"));
  });
  return {
    on: (event, listener) => emitter.on(event, listener),
    stop() {
      stopped = true;
    },
  };
}
