// Hash routes (#/users/7): the app is static files, so any server (nginx, the gateway, a test's
// http.server) serves every screen from index.html without rewrite rules.
import { useSyncExternalStore } from "react";

export type Route =
  | { name: "profile" }
  | { name: "user"; id: number }
  | { name: "users" }
  | { name: "connections" }
  | { name: "chat"; peerId: number | null }
  | { name: "notifications" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const id = (s: string | undefined) => (s && /^\d+$/.test(s) ? Number(s) : null);
  switch (parts[0]) {
    case "users": {
      const userId = id(parts[1]);
      return userId !== null ? { name: "user", id: userId } : { name: "users" };
    }
    case "connections":
      return { name: "connections" };
    case "chat":
      return { name: "chat", peerId: id(parts[1]) };
    case "notifications":
      return { name: "notifications" };
    default:
      return { name: "profile" };
  }
}

export function href(route: Route): string {
  switch (route.name) {
    case "profile":
      return "#/profile";
    case "user":
      return `#/users/${route.id}`;
    case "users":
      return "#/users";
    case "connections":
      return "#/connections";
    case "chat":
      return route.peerId ? `#/chat/${route.peerId}` : "#/chat";
    case "notifications":
      return "#/notifications";
  }
}

function subscribe(listener: () => void): () => void {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

export function useHash(): string {
  return useSyncExternalStore(subscribe, () => window.location.hash);
}

export function useRoute(): Route {
  return parseRoute(useHash());
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}
