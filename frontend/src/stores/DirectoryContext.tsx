// Names and presence of the users on screen. Names come from profiles the app already read (or
// GET /api/users/{id} once); presence from GET /api/presence and then the socket's frames.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { Peer, Presence, ServerFrame } from "../api/types";
import { useFrames, useResync, useSocket } from "../realtime/RealtimeContext";
import { useApi } from "../services";

export type Person = Pick<Peer, "id" | "username" | "display_name">;

interface DirectoryApi {
  people: Map<number, Person>;
  presence: Map<number, Presence>;
  remember(people: Person[]): void;
  want(ids: number[]): void;
  watchPresence(ids: number[]): void;
}

const DirectoryContext = createContext<DirectoryApi | null>(null);

export function DirectoryProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const socket = useSocket();
  const [people, setPeople] = useState(() => new Map<number, Person>());
  const [presence, setPresence] = useState(() => new Map<number, Presence>());
  const asked = useRef(new Set<number>());
  const watched = useRef(new Set<number>());

  const remember = useCallback((list: Person[]) => {
    if (!list.length) return;
    setPeople((prev) => {
      const next = new Map(prev);
      for (const p of list) next.set(p.id, { id: p.id, username: p.username, display_name: p.display_name });
      return next;
    });
  }, []);

  const want = useCallback((ids: number[]) => {
    for (const id of ids) {
      if (asked.current.has(id)) continue;
      asked.current.add(id);
      api.get<Person>(`/api/users/${id}`).then((user) => remember([user]), () => asked.current.delete(id));
    }
  }, [api, remember]);

  const mergePresence = useCallback((found: Record<string, Presence>) => {
    setPresence((prev) => {
      const next = new Map(prev);
      for (const [id, p] of Object.entries(found)) next.set(Number(id), p);
      return next;
    });
  }, []);

  const fetchPresence = useCallback((ids: number[]) => {
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      api.get<Record<string, Presence>>("/api/presence", { user_ids: chunk.join(",") })
        .then(mergePresence, () => undefined);
    }
  }, [api, mergePresence]);

  const watchPresence = useCallback((ids: number[]) => {
    const fresh = ids.filter((id) => !watched.current.has(id));
    fresh.forEach((id) => watched.current.add(id));
    if (fresh.length) fetchPresence(fresh);
  }, [fetchPresence]);

  useFrames((frame: ServerFrame) => {
    if (frame.type !== "presence") return;
    if ("users" in frame && frame.users && typeof frame.users === "object") {
      mergePresence(frame.users as Record<string, Presence>);
    } else if ("user_id" in frame && typeof frame.user_id === "number") {
      mergePresence({ [frame.user_id]: { online: Boolean(frame.online), last_seen: (frame.last_seen as string | null) ?? null } });
    }
  });

  useResync(() => fetchPresence([...watched.current]));

  // Presence pushes reach only connections; ask again now and then for the others on screen.
  useEffect(() => {
    const timer = setInterval(() => {
      if (watched.current.size) socket.send({ type: "presence:query", user_ids: [...watched.current].slice(0, 100) });
    }, 30_000);
    return () => clearInterval(timer);
  }, [socket]);

  const value = useMemo(() => ({ people, presence, remember, want, watchPresence }),
                        [people, presence, remember, want, watchPresence]);
  return <DirectoryContext.Provider value={value}>{children}</DirectoryContext.Provider>;
}

export function useDirectory(): DirectoryApi {
  const api = useContext(DirectoryContext);
  if (!api) throw new Error("useDirectory outside DirectoryProvider");
  return api;
}

export function displayName(person: Person | undefined, id: number): string {
  if (!person) return `user #${id}`;
  return person.display_name ? `${person.display_name} (@${person.username})` : `@${person.username}`;
}

/** The name of user `id`, fetched once if not yet known. */
export function usePersonName(id: number): string {
  const { people, want } = useDirectory();
  const person = people.get(id);
  useEffect(() => {
    if (!person) want([id]);
  }, [person, id, want]);
  return displayName(person, id);
}
