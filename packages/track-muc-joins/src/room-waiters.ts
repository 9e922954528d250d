// The callers waiting for a room's answer: a join waits for our own self-presence (status 110) or the room's
// error, a leave for the room's confirmation. Each wait ends at the answer, at its timeout, when the link
// drops (no room answers over a dead link) or when the feature stops.
// https://xmpp.org/extensions/xep-0045.html#enter
import { StanzaError, type Element } from "@xmppkit/core";
import { MucTimeoutError } from "./join-room.js";
import { mucStatusCodes, type JoinTracker, type LeaveReason } from "./join-tracker.js";

export interface Waiter<T> {
  jid: string;
  room: string;
  resolve(value: T): void;
  reject(err: Error): void;
}

export interface Pending<T> {
  answer: Promise<T>;
  /** End the wait early (the stanza could not be sent). */
  fail(err: unknown): void;
}

/** Wait for the room's answer about (jid, room); `timeoutError` after `timeoutMs`. `fail` ends the wait early. */
export function awaitRoom<T>(set: Set<Waiter<T>>, jid: string, room: string, timeoutMs: number, timeoutError: () => Error): Pending<T> {
  let waiter!: Waiter<T>;
  const answer = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => waiter.reject(timeoutError()), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      set.delete(waiter);
    };
    waiter = {
      jid,
      room,
      resolve: (v) => {
        done();
        resolve(v);
      },
      reject: (e) => {
        done();
        reject(e);
      },
    };
  });
  set.add(waiter);
  return { answer, fail: (err: unknown) => waiter.reject(err instanceof Error ? err : new Error(String(err))) };
}

export class RoomWaiters {
  readonly #joins = new Set<Waiter<Element>>();
  readonly #leaves = new Set<Waiter<LeaveReason>>();
  readonly #tracker: Pick<JoinTracker, "entry">;

  constructor(tracker: Pick<JoinTracker, "entry">) {
    this.#tracker = tracker;
  }

  /** Wait for the self-presence (or the error) that answers a join; MucTimeoutError after `timeoutMs`. */
  awaitJoin(jid: string, room: string, timeoutMs: number): Pending<Element> {
    return awaitRoom(this.#joins, jid, room, timeoutMs, () => new MucTimeoutError(room, "join", timeoutMs));
  }

  /** Wait for the room to confirm a leave; MucTimeoutError after `timeoutMs`. */
  awaitLeave(jid: string, room: string, timeoutMs: number): Pending<LeaveReason> {
    return awaitRoom(this.#leaves, jid, room, timeoutMs, () => new MucTimeoutError(room, "leave", timeoutMs));
  }

  /** A join waits for the room's error, or for our own self-presence (the nick the tracker holds). */
  settleWaiters(jid: string, room: string, nick: string | undefined, presence: Element): void {
    const type = presence.attrs.type as string | undefined;
    const settle = (w: Waiter<Element>) => {
      if (type === "error") w.reject(StanzaError.fromStanza(presence));
      else w.resolve(presence);
    };
    const entry = () => this.#tracker.entry(jid, room);
    const ours = type === undefined && mucStatusCodes(presence).includes("110") && entry()?.nick === nick && entry()?.state === "joined";
    if (type === "error" || ours) {
      for (const w of [...this.#joins]) if (w.jid === jid && w.room === room) settle(w);
    }
  }

  /** The tracker saw (jid, room) end: a leave waiting for it is answered. */
  left(jid: string, room: string, reason: LeaveReason): void {
    for (const w of [...this.#leaves]) if (w.jid === jid && w.room === room) w.resolve(reason);
  }

  /**
   * No room answers over a dead link: a leave is as done as it gets (a shutdown while the server goes away
   * must not wait out the timeout), a join fails now (a rejoin runs when the link is back).
   */
  linkLost(reason: string): void {
    for (const w of [...this.#leaves]) w.resolve({ kind: "stream-ended", codes: [] });
    for (const w of [...this.#joins]) w.reject(new Error(`the link to the server dropped before the room answered (${reason})`));
  }

  /** Every wait fails with `error`. */
  rejectAll(error: Error): void {
    for (const w of [...this.#joins, ...this.#leaves]) w.reject(error);
  }
}
