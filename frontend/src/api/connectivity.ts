// Whether the gateway answers. Any request that cannot reach it (or gets a 502/503/504 from a
// proxy in front of it) marks it unreachable; then /api/health/live is polled with backoff until
// it answers, and everyone subscribed refetches. The app never needs a reload to recover.
import { useSyncExternalStore } from "react";
import { backoffDelay } from "../realtime/backoff";

export type Reachability = "reachable" | "unreachable";

type Listener = () => void;

export class ConnectivityStore {
  private state: Reachability = "reachable";
  private listeners = new Set<Listener>();
  private recoveredListeners = new Set<Listener>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;

  constructor(
    private readonly probe: () => Promise<boolean>,
    private readonly schedule: (fn: () => void, ms: number) => ReturnType<typeof setTimeout> = setTimeout,
  ) {}

  get current(): Reachability {
    return this.state;
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Called once each time the gateway answers again after being unreachable. */
  onRecovered(listener: Listener): () => void {
    this.recoveredListeners.add(listener);
    return () => this.recoveredListeners.delete(listener);
  }

  markUnreachable(): void {
    if (this.state === "unreachable") return;
    this.state = "unreachable";
    this.attempt = 0;
    this.emit();
    this.scheduleProbe();
  }

  markReachable(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.state === "reachable") return;
    this.state = "reachable";
    this.emit();
    for (const listener of [...this.recoveredListeners]) listener();
  }

  private scheduleProbe(): void {
    const delay = backoffDelay(this.attempt++, { baseMs: 500, capMs: 5000 });
    this.timer = this.schedule(async () => {
      this.timer = null;
      if (this.state !== "unreachable") return;
      let up = false;
      try {
        up = await this.probe();
      } catch {
        up = false;
      }
      if (up) this.markReachable();
      else if (this.state === "unreachable") this.scheduleProbe();
    }, delay);
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

export function useReachability(store: ConnectivityStore): Reachability {
  return useSyncExternalStore(store.subscribe, () => store.current);
}
