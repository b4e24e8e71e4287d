// @vitest-environment node
import { config, loadRuntimeConfig, setConfig, websocketUrl } from "./config";

describe("configuration", () => {
  afterEach(() => setConfig({ apiUrl: "http://localhost:8000" }));

  it("defaults to the gateway on localhost:8000", () => {
    expect(config().apiUrl).toBe("http://localhost:8000");
  });

  it("lets /config.json override the build's gateway URL", async () => {
    const fetchImpl = vi.fn(async () => new Response(JSON.stringify({ apiUrl: "https://api.example.org/" }),
      { headers: { "Content-Type": "application/json" } }));
    await loadRuntimeConfig(fetchImpl as unknown as typeof fetch);
    expect(config().apiUrl).toBe("https://api.example.org");
  });

  it("keeps the build's URL when there is no config.json", async () => {
    const fetchImpl = vi.fn(async () => new Response("<!doctype html>", { status: 404, headers: { "Content-Type": "text/html" } }));
    await loadRuntimeConfig(fetchImpl as unknown as typeof fetch);
    expect(config().apiUrl).toBe("http://localhost:8000");
  });

  it("derives the socket URL from the gateway URL", () => {
    expect(websocketUrl("http://localhost:8000")).toBe("ws://localhost:8000/ws");
    expect(websocketUrl("https://api.example.org/gw")).toBe("wss://api.example.org/gw/ws");
  });
});
