// Where the gateway is. Build time: VITE_API_URL. Run time: /config.json {"apiUrl": "..."}
// (written by the nginx image from its API_URL, or by a test server) overrides it, so one
// build serves any deployment.

export interface AppConfig {
  apiUrl: string;
}

const DEFAULT_API_URL = "http://localhost:8000";

let current: AppConfig = { apiUrl: normalise(import.meta.env.VITE_API_URL || DEFAULT_API_URL) };

function normalise(url: string): string {
  return url.replace(/\/+$/, "");
}

export function config(): AppConfig {
  return current;
}

export function setConfig(next: Partial<AppConfig>): void {
  current = { ...current, ...next, apiUrl: normalise(next.apiUrl ?? current.apiUrl) };
}

/** Reads /config.json if the server has one; a missing or broken file keeps the build's value. */
export async function loadRuntimeConfig(fetchImpl: typeof fetch = fetch): Promise<AppConfig> {
  try {
    const answer = await fetchImpl("/config.json", { cache: "no-store" });
    if (answer.ok && (answer.headers.get("content-type") ?? "").includes("json")) {
      const body = (await answer.json()) as Partial<AppConfig>;
      if (typeof body.apiUrl === "string" && body.apiUrl) setConfig({ apiUrl: body.apiUrl });
    }
  } catch {
    // No runtime config: the build-time URL stands.
  }
  return current;
}

/** ws(s)://host/ws for the gateway at apiUrl. */
export function websocketUrl(apiUrl: string = current.apiUrl): string {
  const url = new URL(apiUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = url.pathname.replace(/\/+$/, "") + "/ws";
  url.search = "";
  return url.toString();
}
