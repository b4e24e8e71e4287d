// Your connections and pending requests both ways. Reloaded when a connection notification
// arrives on the socket (a request to you, an acceptance of yours) and after any gap.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import type { Connection } from "../api/types";
import { useResync } from "../realtime/RealtimeContext";
import { useApi } from "../services";
import { useDirectory } from "./DirectoryContext";
import { useNotifications } from "./NotificationsContext";

export type Relation = "none" | "connected" | "incoming" | "outgoing";

interface ConnectionsApi {
  connections: Connection[];
  incoming: Connection[];
  outgoing: Connection[];
  loaded: boolean;
  error: unknown;
  reload(): Promise<void>;
  relation(userId: number): Relation;
  request(userId: number): Promise<void>;
  accept(id: number): Promise<void>;
  reject(id: number): Promise<void>;
}

const ConnectionsContext = createContext<ConnectionsApi | null>(null);

export function ConnectionsProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const { remember } = useDirectory();
  const { onLive } = useNotifications();
  const [connections, setConnections] = useState<Connection[]>([]);
  const [incoming, setIncoming] = useState<Connection[]>([]);
  const [outgoing, setOutgoing] = useState<Connection[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const reload = useCallback(async () => {
    try {
      const [all, inc, out] = await Promise.all([
        api.get<{ items: Connection[] }>("/api/connections"),
        api.get<{ items: Connection[] }>("/api/connections/requests", { direction: "incoming" }),
        api.get<{ items: Connection[] }>("/api/connections/requests", { direction: "outgoing" }),
      ]);
      setConnections(all.items);
      setIncoming(inc.items);
      setOutgoing(out.items);
      remember([...all.items, ...inc.items, ...out.items].map((c) => c.user));
      setError(null);
      setLoaded(true);
    } catch (e) {
      setError(e);
    }
  }, [api, remember]);

  useEffect(() => {
    void reload();
  }, [reload]);
  useResync(() => void reload());
  useEffect(() => onLive((n) => {
    if (n.kind.startsWith("connection.")) void reload();
  }), [onLive, reload]);

  const relation = useCallback((userId: number): Relation => {
    if (connections.some((c) => c.user.id === userId)) return "connected";
    if (incoming.some((c) => c.user.id === userId)) return "incoming";
    if (outgoing.some((c) => c.user.id === userId)) return "outgoing";
    return "none";
  }, [connections, incoming, outgoing]);

  const request = useCallback(async (userId: number) => {
    await api.post<Connection>("/api/connections", { to_user_id: userId });
    await reload();
  }, [api, reload]);

  const accept = useCallback(async (id: number) => {
    await api.post<Connection>(`/api/connections/${id}/accept`);
    await reload();
  }, [api, reload]);

  const reject = useCallback(async (id: number) => {
    await api.post<Connection>(`/api/connections/${id}/reject`);
    await reload();
  }, [api, reload]);

  const value = useMemo(() => ({ connections, incoming, outgoing, loaded, error, reload, relation, request, accept, reject }),
                        [connections, incoming, outgoing, loaded, error, reload, relation, request, accept, reject]);
  return <ConnectionsContext.Provider value={value}>{children}</ConnectionsContext.Provider>;
}

export function useConnections(): ConnectionsApi {
  const api = useContext(ConnectionsContext);
  if (!api) throw new Error("useConnections outside ConnectionsProvider");
  return api;
}
