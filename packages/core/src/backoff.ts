// Reconnect delays: exponential backoff with full jitter and a cap.

export interface BackoffOptions {
  /** Delay before the first retry, in ms (default 1000). */
  initial?: number;
  /** Upper bound for any delay, in ms (default 60 000). */
  max?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Fraction of the delay that is randomised, 0–1 (default 0.5: a delay lies in [d/2, d]). */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initial: 1000, max: 60_000, factor: 2, jitter: 0.5 };

/**
 * The delay before retry number `attempt` (0 for the first retry). `random` returns a number in [0, 1).
 * Without jitter the schedule is initial, initial·factor, initial·factor², … capped at max.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initial, max, factor, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const base = Math.min(max, initial * factor ** Math.max(0, attempt));
  const j = Math.min(1, Math.max(0, jitter));
  return Math.round(base * (1 - j * random()));
}
