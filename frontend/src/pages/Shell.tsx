// The signed-in app: header (username, unread count, Log out), navigation, the current screen,
// and the live plumbing every screen shares (toasts for messages and notifications).
import { useEffect, useState } from "react";
import { describeError } from "../api/client";
import type { Message, Notification, ServerFrame } from "../api/types";
import { useAuth, useSignedInUser } from "../auth/AuthContext";
import { SocketBanner, SocketIndicator } from "../components/StatusBanner";
import { useFrames } from "../realtime/RealtimeContext";
import { href, useRoute, type Route } from "../router";
import { useDirectory } from "../stores/DirectoryContext";
import { useNotifications } from "../stores/NotificationsContext";
import { ToastList, useToasts } from "../stores/ToastContext";
import { ChatPage } from "./ChatPage";
import { ConnectionsPage } from "./ConnectionsPage";
import { notificationPeople } from "./notificationText";
import { NotificationsPage } from "./NotificationsPage";
import { ProfilePage } from "./ProfilePage";
import { UserPage } from "./UserPage";
import { UsersPage } from "./UsersPage";

const NAV: { route: Route; label: string }[] = [
  { route: { name: "profile" }, label: "Profile" },
  { route: { name: "users" }, label: "People" },
  { route: { name: "connections" }, label: "Connections" },
  { route: { name: "chat", peerId: null }, label: "Chat" },
];

function LiveToasts() {
  const me = useSignedInUser();
  const route = useRoute();
  const { show } = useToasts();
  const { want } = useDirectory();
  const { onLive } = useNotifications();

  // A message for a conversation that is not open: say so at once.
  useFrames((frame: ServerFrame) => {
    if (frame.type !== "message" || !("message" in frame)) return;
    const message = frame.message as Message;
    if (message.from_user_id === me.id) return;
    if (route.name === "chat" && route.peerId === message.from_user_id) return;
    want([message.from_user_id]);
    show({
      title: "New message from",
      fromUserId: message.from_user_id,
      text: message.text,
      href: href({ name: "chat", peerId: message.from_user_id }),
    });
  });

  useEffect(() => onLive((n: Notification) => {
    if (n.kind === "message.received" && route.name === "chat" && route.peerId === Number(n.payload.from_user_id)) return;
    want(notificationPeople(n));
    show({ title: "Notification", text: n.kind, notification: n, href: href({ name: "notifications" }) });
  }), [onLive, show, want, route]);
  return null;
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case "profile":
      return <ProfilePage />;
    case "user":
      return <UserPage id={route.id} />;
    case "users":
      return <UsersPage />;
    case "connections":
      return <ConnectionsPage />;
    case "chat":
      return <ChatPage peerId={route.peerId} />;
    case "notifications":
      return <NotificationsPage />;
  }
}

export function Shell() {
  const me = useSignedInUser();
  const { logout } = useAuth();
  const route = useRoute();
  const { unread } = useNotifications();
  const [logoutError, setLogoutError] = useState<string | null>(null);
  const current = route.name === "user" ? "users" : route.name;

  async function onLogout() {
    setLogoutError(null);
    try {
      await logout();
      window.location.hash = "";
    } catch (e) {
      setLogoutError(describeError(e));
    }
  }

  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" href="#/profile">Snaproom</a>
        <nav aria-label="Main">
          {NAV.map(({ route: r, label }) => (
            <a key={label} href={href(r)} aria-current={current === r.name ? "page" : undefined}>{label}</a>
          ))}
          <a href="#/notifications" aria-current={current === "notifications" ? "page" : undefined}>
            Notifications{" "}
            <span className="badge" aria-label={`${unread} unread`} data-testid="unread-count">{unread > 99 ? "99+" : unread}</span>
          </a>
        </nav>
        <div className="me">
          <SocketIndicator />
          <span className="username" data-testid="signed-in-username">{me.username}</span>
          <button type="button" onClick={onLogout}>Log out</button>
        </div>
      </header>
      <SocketBanner />
      {logoutError && <div className="error" role="alert">{logoutError}</div>}
      <main className="content">
        <Screen route={route} />
      </main>
      <LiveToasts />
      <ToastList />
    </div>
  );
}
