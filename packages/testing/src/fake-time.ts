// Waiting for time in unit tests without waiting: with the test runner's fake timers (vitest's `vi`, jest's
// `jest`), advance the clock in small steps and let the real turns in between run (the mock entity's
// replies and xmpp.js's middleware use setImmediate and promises, which stay real).
//
//   vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
//   const time = fakeTime(vi);
//   await time.settle(ping.next("ghost", 2000));   // the ping's timeout and its retry, in fake time

/** The part of a test runner's timer API this needs. */
export interface TimerControl {
  advanceTimersByTimeAsync(ms: number): Promise<unknown>;
}

export interface FakeTime {
  /** Let the pending real turns run (setImmediate, promise jobs). */
  flush(): Promise<void>;
  /** Let `ms` of fake time pass, then the real turns. */
  sleep(ms: number): Promise<void>;
  /** Advance `stepMs` (default 5) at a time until `done()` holds or `timeoutMs` of fake time passed. */
  until(done: () => boolean, timeoutMs?: number, stepMs?: number): Promise<void>;
  /** Await `promise` while fake time advances (it waits for a timer, or for a reply that follows one). */
  settle<T>(promise: Promise<T>, timeoutMs?: number): Promise<T>;
}

export function fakeTime(timers: TimerControl): FakeTime {
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const sleep = async (ms: number) => {
    await timers.advanceTimersByTimeAsync(ms);
    await flush();
  };
  const until = async (done: () => boolean, timeoutMs = 1000, stepMs = 5) => {
    for (let t = 0; !done() && t < timeoutMs; t += stepMs) await sleep(stepMs);
  };
  const settle = async <T>(promise: Promise<T>, timeoutMs = 2000): Promise<T> => {
    let settled = false;
    promise.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await until(() => settled, timeoutMs);
    return promise;
  };
  return { flush, sleep, until, settle };
}
