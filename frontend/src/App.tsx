// The whole app: who is signed in decides between the sign-in screen and the shell.
import type { ApiClient } from "./api/client";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { GatewayBanner } from "./components/StatusBanner";
import { AuthScreen } from "./pages/AuthScreen";
import { Shell } from "./pages/Shell";
import { RealtimeProvider } from "./realtime/RealtimeContext";
import type { SocketLike } from "./realtime/socket";
import { ServicesProvider } from "./services";
import { ConnectionsProvider } from "./stores/ConnectionsContext";
import { DirectoryProvider } from "./stores/DirectoryContext";
import { NotificationsProvider } from "./stores/NotificationsContext";
import { ToastProvider } from "./stores/ToastContext";

type SocketFactory = (url: string) => SocketLike;

function Gate({ createSocket }: { createSocket?: SocketFactory }) {
  const { state } = useAuth();
  switch (state.status) {
    case "loading":
      return <p className="muted center" role="status">Loading Snaproom…</p>;
    case "unreachable":
      return <p className="muted center">Snaproom will open as soon as the gateway answers.</p>;
    case "signed-out":
      return <AuthScreen />;
    case "signed-in":
      // Keyed by user: a different sign-in starts from fresh state and a fresh socket.
      return (
        <RealtimeProvider key={state.user.id} createSocket={createSocket}>
          <ToastProvider>
            <DirectoryProvider>
              <NotificationsProvider>
                <ConnectionsProvider>
                  <Shell />
                </ConnectionsProvider>
              </NotificationsProvider>
            </DirectoryProvider>
          </ToastProvider>
        </RealtimeProvider>
      );
  }
}

/** `createSocket` replaces the browser's WebSocket (component tests). */
export function App({ api, createSocket }: { api: ApiClient; createSocket?: SocketFactory }) {
  return (
    <ServicesProvider api={api}>
      <AuthProvider>
        <GatewayBanner />
        <Gate createSocket={createSocket} />
      </AuthProvider>
    </ServicesProvider>
  );
}
