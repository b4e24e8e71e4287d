// Short-lived messages in a corner: a chat message for a conversation that is not open, a new
// notification. Each goes away by itself or when dismissed.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { Notification } from "../api/types";
import { notificationText } from "../pages/notificationText";
import { displayName, useDirectory } from "./DirectoryContext";

export interface Toast {
  id: number;
  title: string;
  text: string;
  href?: string;
  /** Names are filled in when they arrive: a toast shows at once, with "user #7" until then. */
  fromUserId?: number;
  notification?: Notification;
}

interface ToastApi {
  toasts: Toast[];
  show(toast: Omit<Toast, "id">): void;
  dismiss(id: number): void;
}

const ToastContext = createContext<ToastApi | null>(null);
const TOAST_MS = 8000;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>());

  const dismiss = useCallback((id: number) => {
    setToasts((list) => list.filter((t) => t.id !== id));
    const timer = timers.current.get(id);
    if (timer) clearTimeout(timer);
    timers.current.delete(id);
  }, []);

  const show = useCallback((toast: Omit<Toast, "id">) => {
    const id = next.current++;
    setToasts((list) => [...list.slice(-4), { ...toast, id }]);
    timers.current.set(id, setTimeout(() => dismiss(id), TOAST_MS));
  }, [dismiss]);

  useEffect(() => {
    const all = timers.current;
    return () => all.forEach((timer) => clearTimeout(timer));
  }, []);

  const value = useMemo(() => ({ toasts, show, dismiss }), [toasts, show, dismiss]);
  return <ToastContext.Provider value={value}>{children}</ToastContext.Provider>;
}

export function useToasts(): ToastApi {
  const api = useContext(ToastContext);
  if (!api) throw new Error("useToasts outside ToastProvider");
  return api;
}

export function ToastList() {
  const { toasts, dismiss } = useToasts();
  const { people } = useDirectory();
  return (
    <div className="toasts" aria-live="polite" aria-label="Alerts">
      {toasts.map((toast) => {
        const title = toast.fromUserId ? `${toast.title} ${displayName(people.get(toast.fromUserId), toast.fromUserId)}` : toast.title;
        const text = toast.notification ? notificationText(toast.notification, people) : toast.text;
        return (
        <div key={toast.id} className="toast" role="status">
          <strong>{title}</strong>
          <p>{toast.href ? <a href={toast.href} onClick={() => dismiss(toast.id)}>{text}</a> : text}</p>
          <button type="button" className="link" aria-label="Dismiss" onClick={() => dismiss(toast.id)}>×</button>
        </div>
        );
      })}
    </div>
  );
}
