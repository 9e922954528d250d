// Opening the link in three time-boxed steps: TCP connect, the server's stream header, authentication
// (XEP-0114 handshake for a component, SASL and resource binding for a client). xmpp.js has no limit on
// the connect, and a handshake answered with something else than <handshake/> leaves the socket open.
// https://xmpp.org/extensions/xep-0114.html · https://www.rfc-editor.org/rfc/rfc6120#section-4.2
import { XmppkitError } from "./errors.js";
import type { XmppEntity } from "./entity.js";

export interface LinkTimeouts {
  /** TCP connect (default 10 s). */
  connect?: number;
  /** The server's stream header after the connect (default 10 s). */
  open?: number;
  /** The handshake (component) or SASL and resource binding (client) after the header (default 20 s). */
  authenticate?: number;
  /** A graceful close on stop() before the socket is cut (default 3 s). */
  close?: number;
}

export const DEFAULT_LINK_TIMEOUTS: Required<LinkTimeouts> = { connect: 10_000, open: 10_000, authenticate: 20_000, close: 3_000 };

/** A step that ran out of time; the message names it. */
export class StepTimeoutError extends XmppkitError {
  static override readonly brand = "StepTimeoutError";
}

/** stop() was called between two steps. */
export class OpeningStoppedError extends XmppkitError {
  static override readonly brand = "OpeningStoppedError";
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** Race `p` against a time limit. */
function step<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new StepTimeoutError(message)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(t));
}

/** Resolve on `online`; reject on an error during authentication, or when the socket goes. */
function authenticated(entity: XmppEntity): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      entity.off("online", onOnline);
      entity.off("error", onError);
      entity.off("disconnect", onGone);
    };
    const onOnline = () => {
      done();
      resolve();
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onGone = () => {
      done();
      reject(new Error("the connection closed during authentication"));
    };
    entity.on("online", onOnline);
    entity.on("error", onError);
    entity.on("disconnect", onGone);
  });
}

/** Connect, open and authenticate; rejects with why the first failing step failed. */
export async function openLink(entity: XmppEntity, timeouts: Required<LinkTimeouts>, stopping: () => boolean): Promise<void> {
  const { service, domain, lang } = entity.options as { service?: string; domain?: string; lang?: string };
  await step(entity.connect(service!), timeouts.connect, `no TCP connection to ${service} within ${seconds(timeouts.connect)}`);
  if (stopping()) throw new OpeningStoppedError("stopped");
  const auth = authenticated(entity);
  auth.catch(() => undefined);
  await step(
    entity.open({ domain, ...(lang ? { lang } : {}) } as { domain?: string }),
    timeouts.open,
    `${service} accepted the connection but sent no XMPP stream header within ${seconds(timeouts.open)}`,
  );
  await step(auth, timeouts.authenticate, `the server did not complete authentication within ${seconds(timeouts.authenticate)}`);
}
