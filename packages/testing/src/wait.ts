// Waiting in end-to-end tests for a condition, not for a guessed amount of time: poll until it holds and
// return at once, with a deadline generous enough for a busy machine (a deadline is only there to turn a
// hang into a readable failure).

/** Poll `fn` every `intervalMs` (default 20) until it returns something truthy, and return that; throw after `timeoutMs` (default 30 s). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 30_000, intervalMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Wait until `progress()` reaches `target`, for as long as it keeps moving: throw only when it has not
 * changed for `stallMs` (default 30 s). For bulk work (thousands of replies) whose total time depends on
 * the machine's speed but whose rate of progress tells whether it is still going.
 */
export async function waitForProgress(progress: () => number, target: number, what: string, stallMs = 30_000, intervalMs = 20): Promise<number> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const n = progress();
    if (n >= target) return n;
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs) {
      throw new Error(`no progress for ${stallMs} ms waiting for ${what}: ${n} of ${target}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
