// PostgreSQL's LISTEN/NOTIFY for the store (https://www.postgresql.org/docs/current/sql-notify.html): one
// connection of its own, opened on the first listen, that LISTENs on every channel asked for. When it is
// lost (PostgreSQL restarted, a network cut) it is made again with backoff and every listener is told
// "read again" (no payload), since notifications sent meanwhile are gone.
import { backoffDelay } from "@xmppkit/core";
import type pg from "pg";

type Listener = (payload: string | undefined) => void;

export interface PgNotifications {
  listen(channel: string, fn: Listener): Promise<() => void>;
  close(): Promise<void>;
}

const quoted = (channel: string) => `"${channel.replace(/"/g, '""')}"`;

export function pgNotifications(url: string, onError: (err: Error) => void = () => undefined): PgNotifications {
  const listeners = new Map<string, Set<Listener>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let attempt = 0;

  async function connect(): Promise<pg.Client> {
    const { Client } = (await import("pg")).default;
    const c = new Client({ connectionString: url, keepAlive: true, application_name: "xmppkit notifications" });
    c.on("notification", (n) => {
      for (const fn of listeners.get(n.channel) ?? []) fn(n.payload || undefined);
    });
    c.on("error", (err) => lost(c, err));
    c.on("end", () => lost(c, new Error("the notification connection closed")));
    await c.connect();
    for (const channel of listeners.keys()) await c.query(`LISTEN ${quoted(channel)}`);
    return c;
  }

  /** The connection, made if needed (one attempt at a time). */
  function ensure(): Promise<pg.Client> {
    if (client) return Promise.resolve(client);
    connecting ??= connect().then(
      (c) => {
        client = c;
        connecting = undefined;
        attempt = 0;
        return c;
      },
      (err: Error) => {
        connecting = undefined;
        throw err;
      },
    );
    return connecting;
  }

  /** Lost: make it again later, and tell every listener to read again once it is back. */
  function lost(c: pg.Client, err: Error) {
    if (client !== c) return;
    client = undefined;
    void c.end().catch(() => undefined);
    if (!closed) onError(err);
    reconnectLater();
  }

  function reconnectLater() {
    if (closed || retry || !listeners.size) return;
    retry = setTimeout(
      () => {
        retry = undefined;
        ensure().then(
          () => {
            for (const fns of listeners.values()) for (const fn of fns) fn(undefined);
          },
          () => {
            attempt++;
            reconnectLater();
          },
        );
      },
      backoffDelay(attempt, { initial: 500, max: 10_000 }),
    );
    retry.unref();
  }

  return {
    async listen(channel, fn) {
      const fresh = !listeners.has(channel);
      const set = listeners.get(channel) ?? new Set<Listener>();
      set.add(fn);
      listeners.set(channel, set);
      try {
        const c = await ensure();
        if (fresh) await c.query(`LISTEN ${quoted(channel)}`);
      } catch (err) {
        onError(err as Error);
        reconnectLater(); // listening starts once PostgreSQL answers
      }
      return () => void set.delete(fn);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
