// Stand-ins for the browser's network in component tests: a fetch that answers from a table of
// routes, and a WebSocket the test opens, closes and pushes frames into.
import type { SocketLike } from "../realtime/socket";

export type Handler = (request: { method: string; url: URL; body: unknown }) =>
  { status?: number; body?: unknown; headers?: Record<string, string> } | "network-error";

export class FakeFetch {
  calls: { method: string; path: string; body: unknown; init: RequestInit | undefined }[] = [];
  private routes: [string, string, Handler][] = [];

  on(method: string, path: string, handler: Handler | { status?: number; body?: unknown; headers?: Record<string, string> }): this {
    this.routes.unshift([method, path, typeof handler === "function" ? handler : () => handler]);
    return this;
  }

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const method = (init?.method ?? "GET").toUpperCase();
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    this.calls.push({ method, path: url.pathname, body, init });
    const route = this.routes.find(([m, p]) => m === method && (p === url.pathname || (p.endsWith("*") && url.pathname.startsWith(p.slice(0, -1)))));
    if (!route) return new Response(JSON.stringify({ detail: "Not Found" }), { status: 404 });
    const answer = route[2]({ method, url, body });
    if (answer === "network-error") throw new TypeError("Failed to fetch");
    const status = answer.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(answer.body ?? {}), {
      status, headers: { "Content-Type": "application/json", ...(answer.headers ?? {}) },
    });
  };
}

export class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  sent: string[] = [];

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  static latest(): FakeSocket {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }

  push(frame: unknown): void {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(frame) }));
  }

  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code } as CloseEvent);
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(): void {
    this.readyState = 3;
  }
}

export const ME = {
  id: 1, username: "ann", display_name: null, first_name: null, last_name: null, bio: null,
  avatar_url: null, created_at: "2026-12-01T10:00:00Z", email: "ann@example.com", role: "user",
  profile_views: 0,
};
