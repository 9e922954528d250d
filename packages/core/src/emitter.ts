// A small typed event emitter: listeners are called in order; a throwing listener is reported, never
// allowed to break the emitter or the listeners after it.

export type EventMap = Record<string, unknown>;
export type Listener<T> = (payload: T) => void;
/** Told about a listener that threw; the emitter and the other listeners go on. */
export type ListenerErrorHandler = (err: unknown, event: string) => void;

/** A listener error handler that logs through `logger` (pino's `error(object, message)`). */
export function logListenerErrors(logger: { error(obj: object, msg: string): void } | undefined, what = "an event listener failed"): ListenerErrorHandler {
  return (err, event) => {
    if (logger) logger.error({ err, event }, what);
    else console.error(`xmppkit: ${what} (${event}):`, err);
  };
}

export class TypedEmitter<E extends EventMap> {
  #listeners = new Map<keyof E, Set<Listener<never>>>();
  #onError: ListenerErrorHandler;

  /** `onError` hears about listeners that throw (default: a line on stderr); it never ends the process. */
  constructor(onError?: ListenerErrorHandler) {
    this.#onError = onError ?? logListenerErrors(undefined);
  }

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(payload);
      } catch (err) {
        this.#onError(err, String(event));
      }
    }
  }

  /** Resolve with the next payload of `event`; reject after `timeoutMs` if given. */
  next<K extends keyof E>(event: K, timeoutMs?: number): Promise<E[K]> {
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              off();
              reject(new Error(`timed out after ${timeoutMs} ms waiting for "${String(event)}"`));
            }, timeoutMs);
      const off = this.once(event, (payload) => {
        clearTimeout(timer);
        resolve(payload);
      });
    });
  }
}

/** Add `props` (getters included, unlike Object.assign) to `target` and return it with both types. */
export function extend<T extends object, P extends object>(target: T, props: P): T & P {
  Object.defineProperties(target, Object.getOwnPropertyDescriptors(props));
  return target as T & P;
}
