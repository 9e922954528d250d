// Which of a component's IQs the server passes on. XEP-0114 says nothing against IQs to any JID, and most
// servers route them all; ejabberd 24.10–24.12 with mod_privilege loaded drops every IQ get, set and result
// a component sends to a bare JID or a domain unless it is a XEP-0356 `<privileged_iq/>` or a roster query
// (fixed in 25.03). Nothing comes back, so each such request would wait for its timeout.
//
// Two XEP-0199 pings tell: one to the server's domain and, right after it, one to `<domain>/<resource>`. A
// full JID is routed everywhere, and any reply (an error too) proves the round trip; the server answers the
// two in order, so when the second is answered and the first still is not a moment later, the first was
// dropped. Then the IQ layer refuses such requests at once (IqNotRoutedError), and the keepalive and other
// round trips to the server go to the full JID. https://xmpp.org/extensions/xep-0199.html ·
// https://xmpp.org/extensions/xep-0356.html
import { TypedEmitter, type ListenerErrorHandler } from "./emitter.js";
import { IqNotRoutedError, IqTimeoutError, StanzaError } from "./errors.js";
import type { Iq } from "./iq.js";
import type { Lifecycle } from "./lifecycle.js";
import type { Logger } from "./logger.js";
import { NS_PING } from "./ping.js";
import { parseJid, xml, type Element } from "./xml.js";

/** "all": the server routes every IQ; "full-jids-only": IQs to bare JIDs and domains are dropped. */
export type IqReachState = "all" | "full-jids-only";

/** The resource of the server's full JID that answers round trips where bare ones are dropped. */
export const SERVER_ECHO_RESOURCE = "xmppkit";

const NS_PRIVILEGE_2 = "urn:xmpp:privilege:2";
const NS_ROSTER = "jabber:iq:roster";

export interface IqReach {
  /** Undefined until the first probe on a link has answered. */
  readonly state: IqReachState | undefined;
  /** Resolves with the state once this link's probe is done (undefined when it got no answer at all). */
  settled(): Promise<IqReachState | undefined>;
  /** Whom to ping for a round trip to the server: its domain, or `<domain>/xmppkit` where bare IQs are dropped. */
  echoTarget(): string | undefined;
  on(event: "changed", listener: (p: { state: IqReachState }) => void): () => void;
  stop(): void;
}

export interface IqReachOptions {
  /** The server's domain (nothing is probed without one). */
  server: string | undefined;
  /** How long the full-JID ping may take (default 10 s). */
  timeout?: number;
  /** How long the domain's answer may lag behind the full JID's before it counts as dropped (default 2 s). */
  grace?: number;
}

/** Why the server would drop `iq` in the full-jids-only state, or undefined when it routes it. */
export function droppedByServer(iq: Element): string | undefined {
  const to = typeof iq.attrs.to === "string" ? parseJid(iq.attrs.to) : undefined;
  if (!to || to.resource) return undefined;
  if (iq.getChild("privileged_iq", NS_PRIVILEGE_2) || iq.getChild("query", NS_ROSTER)) return undefined;
  return "the server drops this component's IQs to bare JIDs and domains (ejabberd 24.10–24.12 with mod_privilege)";
}

/** Probe at every (re)connection of a component; clients need none (their IQs are routed as usual). */
export function watchIqReach(
  { iq, lifecycle, logger, onListenerError }: { iq: Iq; lifecycle: Lifecycle; logger?: Logger | undefined; onListenerError?: ListenerErrorHandler },
  options: IqReachOptions,
): IqReach {
  const emitter = new TypedEmitter<{ changed: { state: IqReachState } }>(onListenerError);
  const timeout = options.timeout ?? 10_000;
  const grace = options.grace ?? 2000;
  let state: IqReachState | undefined;
  let probe: Promise<IqReachState | undefined> = Promise.resolve(undefined);
  let stopped = false;

  function set(next: IqReachState) {
    iq.guardRoutes(next === "full-jids-only" ? droppedByServer : undefined);
    if (next === state) return;
    state = next;
    emitter.emit("changed", { state: next });
  }

  /** "answered" (a result or an error reply), "silent" (no reply in time, or refused as unroutable), or "failed". */
  const outcome = (p: Promise<unknown>): Promise<"answered" | "silent" | "failed"> =>
    p.then(
      () => "answered",
      (err: unknown) => (StanzaError.isInstance(err) ? "answered" : IqTimeoutError.isInstance(err) || IqNotRoutedError.isInstance(err) ? "silent" : "failed"),
    );

  async function run(server: string): Promise<IqReachState | undefined> {
    iq.guardRoutes(undefined); // a new link may be to another server: ask again
    const bare = outcome(iq.get(xml("ping", NS_PING), server, { timeout: timeout + grace }));
    const full = await outcome(iq.get(xml("ping", NS_PING), `${server}/${SERVER_ECHO_RESOURCE}`, { timeout }));
    if (full === "failed") return undefined; // the link went away: no verdict
    if (full === "silent") return (await bare) === "answered" ? "all" : undefined;
    const lag = new Promise<"lag">((resolve) => setTimeout(() => resolve("lag"), grace).unref());
    const first = await Promise.race([bare, lag]);
    return first === "answered" ? "all" : first === "failed" ? undefined : "full-jids-only";
  }

  // A verdict belongs to the link it was asked on: a later link (or none) ignores it.
  let link = 0;
  const forget = () => {
    link++;
    state = undefined;
  };
  const offLost = lifecycle.on("link-lost", forget);
  const offOffline = lifecycle.on("offline", forget);
  const offOnline = lifecycle.on("online", () => {
    if (!options.server || stopped) return;
    const mine = ++link;
    probe = run(options.server).then(
      (result) => {
        if (mine !== link || stopped) return undefined;
        if (result) set(result);
        else logger?.warn({ server: options.server }, "the link check got no verdict: the server answered neither ping");
        return result;
      },
      () => undefined,
    );
  });

  return {
    get state() {
      return state;
    },
    settled: () => probe,
    echoTarget: () => (options.server && state === "full-jids-only" ? `${options.server}/${SERVER_ECHO_RESOURCE}` : options.server),
    on: (event, listener) => emitter.on(event, listener),
    stop() {
      stopped = true;
      offOnline();
      offLost();
      offOffline();
    },
  };
}
