import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiClient } from "./api/client";
import { App } from "./App";
import { FakeFetch, FakeSocket, ME } from "./test/fakes";

function signedInGateway(): FakeFetch {
  return new FakeFetch()
    .on("GET", "/api/auth/me", { body: ME })
    .on("GET", "/api/users/1", { body: ME })
    .on("GET", "/api/users/2", { body: { ...ME, id: 2, username: "bob", display_name: "Bob B" } })
    .on("GET", "/api/notifications", { body: { items: [], next_before: null } })
    .on("GET", "/api/connections", { body: { items: [] } })
    .on("GET", "/api/connections/requests", { body: { items: [] } })
    .on("GET", "/api/presence", { body: {} });
}

/** The socket the signed-in shell opened (its effect may run just after the first paint). */
async function shellSocket(): Promise<FakeSocket> {
  await waitFor(() => expect(FakeSocket.all.length).toBeGreaterThan(0));
  return FakeSocket.latest();
}

function renderApp(fake: FakeFetch) {
  const api = new ApiClient(() => "http://gateway.test", fake.fetch);
  render(<App api={api} createSocket={(url) => new FakeSocket(url)} />);
  return api;
}

beforeEach(() => {
  FakeSocket.all = [];
});

describe("signing up and logging in", () => {
  it("offers labelled Email and Password fields and a Log in button to a signed-out visitor", async () => {
    renderApp(new FakeFetch().on("GET", "/api/auth/me", { status: 401, body: { detail: "Not authenticated" } }));
    expect(await screen.findByRole("button", { name: "Log in" })).toBeInTheDocument();
    expect(screen.getByLabelText("Email")).toBeInTheDocument();
    expect(screen.getByLabelText("Password")).toBeInTheDocument();
  });

  it("signs up with Email, Username and Password and opens the shell with the username", async () => {
    const user = userEvent.setup();
    const fake = signedInGateway()
      .on("GET", "/api/auth/me", { status: 401, body: { detail: "Not authenticated" } })
      .on("POST", "/api/auth/signup", { status: 201, body: { user: ME, token: "secret-token" } });
    renderApp(fake);
    await user.click(await screen.findByRole("tab", { name: "Create an account" }));
    await user.type(screen.getByLabelText("Email"), "ann@example.com");
    await user.type(screen.getByLabelText("Username"), "ann");
    await user.type(screen.getByLabelText("Password"), "correct-horse");
    await user.click(screen.getByRole("button", { name: "Sign up" }));

    expect(await screen.findByTestId("signed-in-username")).toHaveTextContent("ann");
    expect(screen.getByRole("button", { name: "Log out" })).toBeInTheDocument();
    expect(fake.calls.find((c) => c.path === "/api/auth/signup")?.body).toEqual({
      email: "ann@example.com", username: "ann", password: "correct-horse" });
    expect(JSON.stringify(localStorage)).not.toContain("secret-token");
    expect(document.cookie).not.toContain("secret-token");
  });

  it("shows the gateway's detail when signup is refused", async () => {
    const user = userEvent.setup();
    renderApp(new FakeFetch()
      .on("GET", "/api/auth/me", { status: 401, body: { detail: "Not authenticated" } })
      .on("POST", "/api/auth/signup", { status: 409, body: { detail: "Username already taken" } }));
    await user.click(await screen.findByRole("tab", { name: "Create an account" }));
    await user.type(screen.getByLabelText("Email"), "ann@example.com");
    await user.type(screen.getByLabelText("Username"), "ann");
    await user.type(screen.getByLabelText("Password"), "correct-horse");
    await user.click(screen.getByRole("button", { name: "Sign up" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Username already taken");
  });

  it("counts down the Retry-After of a 429", async () => {
    const user = userEvent.setup();
    renderApp(new FakeFetch()
      .on("GET", "/api/auth/me", { status: 401, body: { detail: "Not authenticated" } })
      .on("POST", "/api/auth/login", { status: 429, headers: { "Retry-After": "37" },
        body: { detail: "Too many requests: the limit is 10/minute; retry in 37 s" } }));
    await user.type(await screen.findByLabelText("Email"), "ann@example.com");
    await user.type(screen.getByLabelText("Password"), "wrong");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Too many requests. Try again in 37 s.");
    expect(alert).toHaveTextContent("the limit is 10/minute");
  });
});

describe("the signed-in shell", () => {
  it("raises the unread count and shows a toast for frames from the socket", async () => {
    renderApp(signedInGateway());
    expect(await screen.findByTestId("signed-in-username")).toHaveTextContent("ann");
    const socket = await shellSocket();
    act(() => socket.open());
    expect(await screen.findByText("Live")).toBeInTheDocument();
    expect(screen.getByTestId("unread-count")).toHaveTextContent("0");

    act(() => socket.push({ type: "notification", notification: {
      id: 9, kind: "connection.requested", payload: { connection_id: 3, from_user_id: 2 },
      created_at: "2026-12-01T10:00:00Z", read_at: null, read: false } }));
    expect(await screen.findByTestId("unread-count")).toHaveTextContent("1");

    act(() => socket.push({ type: "message", message: {
      id: 5, from_user_id: 2, to_user_id: 1, text: "Hi Ann!", created_at: "2026-12-01T10:00:00Z" } }));
    const alerts = screen.getByLabelText("Alerts");
    expect(await within(alerts).findByText("Hi Ann!")).toBeInTheDocument();
  });

  it("says when the socket is reconnecting and when the gateway cannot be reached", async () => {
    let down = false;
    const fake = signedInGateway().on("GET", "/api/health/live", () => (down ? "network-error" : { body: { status: "ok" } }));
    const api = renderApp(fake);
    expect(await screen.findByTestId("signed-in-username")).toHaveTextContent("ann");
    const socket = await shellSocket();
    act(() => socket.open());
    down = true;
    act(() => socket.drop());
    expect(await screen.findByText("Live updates paused: reconnecting…")).toBeInTheDocument();
    act(() => api.connectivity.markUnreachable());
    expect(await screen.findByText("Cannot reach the Snaproom gateway. Retrying…")).toBeInTheDocument();
    act(() => api.connectivity.markReachable());
    expect(screen.queryByText("Cannot reach the Snaproom gateway. Retrying…")).not.toBeInTheDocument();
  });
});
