import { useEffect, useState } from "react";
import type { Notification } from "../api/types";
import { Empty, ErrorNotice, Loading } from "../components/ErrorNotice";
import { href } from "../router";
import { useDirectory } from "../stores/DirectoryContext";
import { useNotifications } from "../stores/NotificationsContext";
import { notificationPeople, notificationText } from "./notificationText";

function link(n: Notification): string | null {
  if (n.kind === "message.received" && n.payload.from_user_id) return href({ name: "chat", peerId: Number(n.payload.from_user_id) });
  if (n.kind.startsWith("connection.")) return href({ name: "connections" });
  return null;
}

export function NotificationsPage() {
  const { items, unread, loading, error, markRead, markAllRead } = useNotifications();
  const { people, want } = useDirectory();
  const [actionError, setActionError] = useState<unknown>(null);

  useEffect(() => {
    want(items.flatMap(notificationPeople));
  }, [items, want]);

  async function run(action: () => Promise<void>) {
    setActionError(null);
    try {
      await action();
    } catch (e) {
      setActionError(e);
    }
  }

  return (
    <section aria-labelledby="notifications-title">
      <h2 id="notifications-title">Notifications</h2>
      <p className="muted">{unread} unread</p>
      {unread > 0 && <button type="button" onClick={() => run(markAllRead)}>Mark all read</button>}
      <ErrorNotice error={error ?? actionError} />
      {loading ? <Loading what="notifications" /> : items.length === 0 ? (
        <Empty>Nothing new. Requests, acceptances and messages you missed show up here.</Empty>
      ) : (
        <ul className="list" aria-label="Notifications">
          {items.map((n) => {
            const to = link(n);
            const text = notificationText(n, people);
            return (
              <li key={n.id} className={`row-item ${n.read ? "read" : "unread"}`} data-testid="notification">
                {to ? <a href={to}>{text}</a> : <span>{text}</span>}
                <time className="muted" dateTime={n.created_at}>{new Date(n.created_at).toLocaleString()}</time>
                {!n.read && <button type="button" onClick={() => run(() => markRead(n.id))}>Mark read</button>}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
