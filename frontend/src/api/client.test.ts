// @vitest-environment node
import { FakeFetch } from "../test/fakes";
import { ApiClient, ApiError, describeError, GatewayUnreachable } from "./client";

function client(fake: FakeFetch) {
  return new ApiClient(() => "http://gateway.test", fake.fetch);
}

describe("ApiClient", () => {
  it("sends the cookie (credentials: include) and JSON, and never an Authorization header", async () => {
    const fake = new FakeFetch().on("POST", "/api/auth/login", { body: { user: {}, token: "t" } });
    await client(fake).post("/api/auth/login", { email: "a@b.c", password: "x" });
    const init = fake.calls[0].init!;
    expect(init.credentials).toBe("include");
    expect(init.headers).toMatchObject({ "Content-Type": "application/json" });
    expect(JSON.stringify(init.headers)).not.toContain("Authorization");
    expect(fake.calls[0].body).toEqual({ email: "a@b.c", password: "x" });
  });

  it("turns a 4xx into ApiError with the gateway's detail", async () => {
    const fake = new FakeFetch().on("POST", "/api/auth/signup", { status: 409, body: { detail: "Username already taken" } });
    const error = (await client(fake).post("/api/auth/signup", {}).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(409);
    expect(describeError(error)).toBe("Username already taken");
  });

  it("lists each bad field of a 422", async () => {
    const fake = new FakeFetch().on("POST", "/api/auth/signup", { status: 422, body: { detail: [
      { loc: ["body", "email"], msg: "value is not a valid email address" },
      { loc: ["body", "password"], msg: "String should have at least 8 characters" },
    ] } });
    const error = (await client(fake).post("/api/auth/signup", {}).catch((e: unknown) => e)) as ApiError;
    expect(describeError(error)).toBe("email: value is not a valid email address; password: String should have at least 8 characters");
  });

  it("reads Retry-After of a 429", async () => {
    const fake = new FakeFetch().on("POST", "/api/auth/login", {
      status: 429, headers: { "Retry-After": "42" },
      body: { detail: "Too many requests: the limit is 10/minute; retry in 42 s" },
    });
    const error = (await client(fake).post("/api/auth/login", {}).catch((e: unknown) => e)) as ApiError;
    expect(error.retryAfter).toBe(42);
    expect(describeError(error)).toContain("Try again in 42 s");
  });

  it("marks the gateway unreachable when fetch fails, and reachable when it answers again", async () => {
    let down = true;
    const fake = new FakeFetch().on("GET", "/api/users", () => (down ? "network-error" : { body: { items: [] } }));
    const api = client(fake);
    await expect(api.get("/api/users")).rejects.toBeInstanceOf(GatewayUnreachable);
    expect(api.connectivity.current).toBe("unreachable");
    const recovered = vi.fn();
    api.connectivity.onRecovered(recovered);
    down = false;
    await api.get("/api/users");
    expect(api.connectivity.current).toBe("reachable");
    expect(recovered).toHaveBeenCalledTimes(1);
  });
});
