// What the app shows while the gateway or the socket is away. Both states clear by themselves
// when the connection comes back; no reload needed.
import { useReachability } from "../api/connectivity";
import { useSocketStatus } from "../realtime/RealtimeContext";
import { useApi } from "../services";

export function GatewayBanner() {
  const api = useApi();
  const reachability = useReachability(api.connectivity);
  if (reachability === "reachable") return null;
  return (
    <div className="banner banner-down" role="alert">
      Cannot reach the Snaproom gateway. Retrying…
    </div>
  );
}

export function SocketBanner() {
  const status = useSocketStatus();
  if (status !== "reconnecting") return null;
  return (
    <div className="banner banner-reconnecting" role="status">
      Live updates paused: reconnecting…
    </div>
  );
}

export function SocketIndicator() {
  const status = useSocketStatus();
  const label = status === "open" ? "Live" : status === "closed" ? "Offline" : "Reconnecting";
  return <span className={`socket-indicator socket-${status}`} title={`Realtime: ${status}`}>{label}</span>;
}
