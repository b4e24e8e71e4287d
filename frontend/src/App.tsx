// The whole app: who is signed in decides between the sign-in screen and the shell.
import type { ApiClient } from "./api/client";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { GatewayBanner } from "./components/StatusBanner";
import { AuthScreen } from "./pages/AuthScreen";
import { Shell } from "./pages/Shell";
import { RealtimeProvider } from "./realtime/RealtimeContext";
import { ServicesProvider } from "./services";
import { ConnectionsProvider } from "./stores/ConnectionsContext";
import { DirectoryProvider } from "./stores/DirectoryContext";
import { NotificationsProvider } from "./stores/NotificationsContext";
import { ToastProvider } from "./stores/ToastContext";

function Gate() {
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
        <RealtimeProvider key={state.user.id}>
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

export function App({ api }: { api: ApiClient }) {
  return (
    <ServicesProvider api={api}>
      <AuthProvider>
        <GatewayBanner />
        <Gate />
      </AuthProvider>
    </ServicesProvider>
  );
}
