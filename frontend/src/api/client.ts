// The one way the app talks HTTP to the gateway: credentials included (the session is the
// HttpOnly cookie `snaproom_session`, never read or stored by this code), JSON in and out,
// errors turned into ApiError with the gateway's `detail` and, for 429, its Retry-After.
import { config } from "../config";
import { ConnectivityStore } from "./connectivity";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfter: number | null = null,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

/** The gateway did not answer at all (down, restarting, network gone). */
export class GatewayUnreachable extends Error {
  constructor() {
    super("Cannot reach the Snaproom gateway. Retrying…");
    this.name = "GatewayUnreachable";
  }
}

/** FastAPI's detail: a string, or for 422 a list of {loc, msg}. */
export function detailText(detail: unknown, status: number): string {
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail)) {
    const parts = detail.map((item) => {
      if (item && typeof item === "object" && "msg" in item) {
        const loc = Array.isArray((item as { loc?: unknown[] }).loc)
          ? (item as { loc: unknown[] }).loc.filter((p) => p !== "body").join(".")
          : "";
        const msg = String((item as { msg: unknown }).msg);
        return loc ? `${loc}: ${msg}` : msg;
      }
      return String(item);
    });
    if (parts.length) return parts.join("; ");
  }
  return `Request failed (HTTP ${status})`;
}

function retryAfterSeconds(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** What to show a person for any error a request can end with. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429 && error.retryAfter !== null) {
      return `Too many requests. Try again in ${error.retryAfter} s. (${error.detail})`;
    }
    return error.detail;
  }
  if (error instanceof GatewayUnreachable) return error.message;
  return error instanceof Error ? error.message : String(error);
}

type Query = Record<string, string | number | boolean | undefined | null>;

export class ApiClient {
  readonly connectivity: ConnectivityStore;

  constructor(
    private readonly baseUrl: () => string = () => config().apiUrl,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {
    this.connectivity = new ConnectivityStore(() => this.live());
  }

  url(path: string, query?: Query): string {
    const url = new URL(this.baseUrl() + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  async live(): Promise<boolean> {
    try {
      const answer = await this.fetchImpl(this.url("/api/health/live"), { cache: "no-store" });
      return answer.ok;
    } catch {
      return false;
    }
  }

  async request<T>(method: string, path: string, options: { body?: unknown; query?: Query } = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    let answer: Response;
    try {
      answer = await this.fetchImpl(this.url(path, options.query), {
        method,
        headers,
        credentials: "include",
        // Revalidate every GET (profiles carry a strong ETag, so that is a cheap 304).
        cache: "no-cache",
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch {
      this.connectivity.markUnreachable();
      throw new GatewayUnreachable();
    }
    if (answer.status === 502 || answer.status === 504) {
      this.connectivity.markUnreachable();
      throw new GatewayUnreachable();
    }
    this.connectivity.markReachable();
    if (answer.status === 204) return undefined as T;
    let body: unknown = null;
    const text = await answer.text();
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!answer.ok) {
      const detail = body && typeof body === "object" && "detail" in body ? (body as { detail: unknown }).detail : body;
      throw new ApiError(answer.status, detailText(detail, answer.status),
                         retryAfterSeconds(answer.headers.get("Retry-After")));
    }
    return body as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, { body });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }
}
