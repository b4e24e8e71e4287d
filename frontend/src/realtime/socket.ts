// The /ws channel: one socket per signed-in tab, authenticated by the session cookie the browser
// sends with the handshake. It reconnects with jittered exponential backoff and, after every
// reconnect, tells its listeners to refetch what they may have missed while it was closed.
import type { ServerFrame } from "../api/types";
import { backoffDelay, type BackoffOptions } from "./backoff";

export type SocketStatus = "connecting" | "open" | "reconnecting" | "closed";

type FrameListener = (frame: ServerFrame) => void;
type Listener = () => void;

export interface SocketLike {
  readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface RealtimeOptions {
  backoff?: BackoffOptions;
  /** A ping every this many ms keeps proxies from closing an idle socket. */
  pingIntervalMs?: number;
  createSocket?: (url: string) => SocketLike;
  /** Asked after each failed attempt: false means the session is gone, so stop trying. */
  stillSignedIn?: () => Promise<boolean>;
}

const OPEN = 1;
const POLICY_VIOLATION = 1008;

export class RealtimeSocket {
  private socket: SocketLike | null = null;
  private statusValue: SocketStatus = "closed";
  private attempt = 0;
  private everOpened = false;
  private stopped = true;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private frameListeners = new Set<FrameListener>();
  private statusListeners = new Set<Listener>();
  private resyncListeners = new Set<Listener>();
  private readonly backoff: BackoffOptions;
  private readonly pingIntervalMs: number;
  private readonly createSocket: (url: string) => SocketLike;

  constructor(private readonly url: string, private readonly options: RealtimeOptions = {}) {
    this.backoff = options.backoff ?? { baseMs: 500, capMs: 8000 };
    this.pingIntervalMs = options.pingIntervalMs ?? 25_000;
    this.createSocket = options.createSocket ?? ((u) => new WebSocket(u) as unknown as SocketLike);
  }

  get status(): SocketStatus {
    return this.statusValue;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.everOpened = false;
    this.attempt = 0;
    this.connect("connecting");
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onerror = null;
      socket.onmessage = null;
      socket.onopen = null;
      socket.close(1000, "bye");
    }
    this.setStatus("closed");
  }

  /** Try now instead of waiting for the backoff (the gateway is known to answer again). */
  reconnectNow(): void {
    if (this.stopped || this.statusValue === "open") return;
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.connect("reconnecting");
    }
  }

  send(frame: Record<string, unknown>): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  onFrame(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  onStatus = (listener: Listener): (() => void) => {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  };

  /** Called after a reconnect: whatever was pushed while the socket was closed is lost. */
  onResync(listener: Listener): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  private connect(status: SocketStatus): void {
    this.setStatus(status);
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.setStatus("open");
      this.startPing();
      if (reconnected) for (const listener of [...this.resyncListeners]) listener();
    };
    socket.onmessage = (event: MessageEvent) => {
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return;
      }
      for (const listener of [...this.frameListeners]) listener(frame);
    };
    socket.onerror = () => {
      // onclose follows and decides what to do.
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      if (this.stopped) return;
      this.setStatus("reconnecting");
      if (event.code === POLICY_VIOLATION || !opened) {
        // A refused handshake (no valid session: HTTP 403) looks the same to a browser as a
        // gateway that is down: ask whether the session still holds before trying again.
        void this.checkSessionThenRetry();
        return;
      }
      this.scheduleRetry();
    };
  }

  private async checkSessionThenRetry(): Promise<void> {
    const check = this.options.stillSignedIn;
    if (check && !(await check().catch(() => true))) {
      this.stop();
      return;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.setStatus("reconnecting");
    const delay = backoffDelay(this.attempt++, this.backoff);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect("reconnecting");
    }, delay);
  }

  private startPing(): void {
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), this.pingIntervalMs);
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
  }

  private setStatus(status: SocketStatus): void {
    if (this.statusValue === status) return;
    this.statusValue = status;
    for (const listener of [...this.statusListeners]) listener();
  }
}
