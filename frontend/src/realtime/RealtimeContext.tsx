// The signed-in tab's socket, and the hooks views use to hear frames and to refetch after any
// gap (a socket reconnect, or the gateway answering again after being unreachable).
import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import type { ServerFrame } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { config, websocketUrl } from "../config";
import { useApi } from "../services";
import { RealtimeSocket, type SocketLike, type SocketStatus } from "./socket";

const RealtimeContext = createContext<RealtimeSocket | null>(null);

export function RealtimeProvider({ children, createSocket }: {
  children: ReactNode;
  createSocket?: (url: string) => SocketLike;
}) {
  const api = useApi();
  const { recheck } = useAuth();
  const recheckRef = useRef(recheck);
  recheckRef.current = recheck;
  const [socket] = useState(() => new RealtimeSocket(websocketUrl(config().apiUrl), {
    stillSignedIn: () => recheckRef.current(),
    createSocket,
  }));

  useEffect(() => {
    socket.start();
    const offRecovered = api.connectivity.onRecovered(() => socket.reconnectNow());
    const offStatus = socket.onStatus(() => {
      if (socket.status === "open") api.connectivity.markReachable();
    });
    return () => {
      offRecovered();
      offStatus();
      socket.stop();
    };
  }, [api, socket]);

  return <RealtimeContext.Provider value={socket}>{children}</RealtimeContext.Provider>;
}

export function useSocket(): RealtimeSocket {
  const socket = useContext(RealtimeContext);
  if (!socket) throw new Error("useSocket outside RealtimeProvider");
  return socket;
}

export function useSocketStatus(): SocketStatus {
  const socket = useSocket();
  return useSyncExternalStore(socket.onStatus, () => socket.status);
}

/** Calls handler for every frame from the gateway (the latest handler, without resubscribing). */
export function useFrames(handler: (frame: ServerFrame) => void): void {
  const socket = useSocket();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => socket.onFrame((frame) => ref.current(frame)), [socket]);
}

/** Calls refetch after a socket reconnect or after the gateway answers again. */
export function useResync(refetch: () => void): void {
  const socket = useSocket();
  const api = useApi();
  const ref = useRef(refetch);
  ref.current = refetch;
  useEffect(() => {
    const offSocket = socket.onResync(() => ref.current());
    const offApi = api.connectivity.onRecovered(() => ref.current());
    return () => {
      offSocket();
      offApi();
    };
  }, [socket, api]);
}
