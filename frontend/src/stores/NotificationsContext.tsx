// The signed-in user's notifications: the newest page, the unread count, and live additions
// from the socket. Marking read goes to the gateway; the count follows.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { describeError } from "../api/client";
import type { Notification, NotificationPage, ServerFrame } from "../api/types";
import { useFrames, useResync } from "../realtime/RealtimeContext";
import { useApi } from "../services";

const PAGE = 50;

interface NotificationsApi {
  items: Notification[];
  unread: number;
  loading: boolean;
  error: string | null;
  reload(): Promise<void>;
  markRead(id: number): Promise<void>;
  markAllRead(): Promise<void>;
  /** Listeners hear each notification pushed live (for toasts, refetching connections). */
  onLive(listener: (n: Notification) => void): () => void;
}

const NotificationsContext = createContext<NotificationsApi | null>(null);

function mergeNewestFirst(current: Notification[], incoming: Notification[]): Notification[] {
  const byId = new Map(current.map((n) => [n.id, n]));
  for (const n of incoming) byId.set(n.id, n);
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

export function NotificationsProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const [items, setItems] = useState<Notification[]>([]);
  const [unreadIds, setUnreadIds] = useState<Set<number>>(() => new Set());
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const listeners = useRef(new Set<(n: Notification) => void>());

  const reload = useCallback(async () => {
    try {
      const [page, unreadPage] = await Promise.all([
        api.get<NotificationPage>("/api/notifications", { limit: PAGE }),
        api.get<NotificationPage>("/api/notifications", { unread: true, limit: 100 }),
      ]);
      // Keep live arrivals newer than the page (pushed while it loaded); the page wins otherwise.
      const newest = page.items[0]?.id ?? 0;
      setItems((prev) => mergeNewestFirst(prev.filter((n) => n.id > newest), page.items));
      setUnreadIds(new Set(unreadPage.items.map((n) => n.id)));
      setError(null);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setLoading(false);
    }
  }, [api]);

  useEffect(() => {
    void reload();
  }, [reload]);
  useResync(() => void reload());

  useFrames((frame: ServerFrame) => {
    if (frame.type !== "notification" || !("notification" in frame)) return;
    const n = frame.notification as Notification;
    setItems((prev) => mergeNewestFirst(prev, [n]));
    if (!n.read) setUnreadIds((prev) => new Set(prev).add(n.id));
    for (const listener of [...listeners.current]) listener(n);
  });

  const applyRead = useCallback((done: Notification) => {
    setItems((prev) => prev.map((n) => (n.id === done.id ? done : n)));
    setUnreadIds((prev) => {
      const next = new Set(prev);
      next.delete(done.id);
      return next;
    });
  }, []);

  const markRead = useCallback(async (id: number) => {
    applyRead(await api.post<Notification>(`/api/notifications/${id}/read`));
  }, [api, applyRead]);

  const markAllRead = useCallback(async () => {
    for (const id of [...unreadIds]) applyRead(await api.post<Notification>(`/api/notifications/${id}/read`));
  }, [api, applyRead, unreadIds]);

  const onLive = useCallback((listener: (n: Notification) => void) => {
    listeners.current.add(listener);
    return () => listeners.current.delete(listener);
  }, []);

  const value = useMemo(() => ({ items, unread: unreadIds.size, loading, error, reload, markRead, markAllRead, onLive }),
                        [items, unreadIds, loading, error, reload, markRead, markAllRead, onLive]);
  return <NotificationsContext.Provider value={value}>{children}</NotificationsContext.Provider>;
}

export function useNotifications(): NotificationsApi {
  const api = useContext(NotificationsContext);
  if (!api) throw new Error("useNotifications outside NotificationsProvider");
  return api;
}
