export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/**
 * Exponential backoff with "equal jitter": attempt 0 waits base/2..base, each next attempt
 * doubles, never past cap. The jitter keeps many clients from reconnecting in lock step after
 * the gateway restarts.
 */
export function backoffDelay(attempt: number, { baseMs, capMs }: BackoffOptions,
                             random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  const half = ceiling / 2;
  return Math.round(half + random() * half);
}
