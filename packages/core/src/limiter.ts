// At most `concurrency` tasks at a time, the rest wait in order (roster syncs, MUC self-pings).

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(concurrency: number): Limiter & { readonly active: number; readonly waiting: number } {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  let active = 0;
  const queue: (() => void)[] = [];
  const limit = async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
  return Object.defineProperties(limit, {
    active: { get: () => active },
    waiting: { get: () => queue.length },
  }) as Limiter & { readonly active: number; readonly waiting: number };
}
