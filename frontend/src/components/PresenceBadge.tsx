import type { Presence } from "../api/types";

export function lastSeenText(iso: string | null, now: number = Date.now()): string {
  if (!iso) return "offline";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return "last seen just now";
  if (seconds < 3600) return `last seen ${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `last seen ${Math.floor(seconds / 3600)} h ago`;
  return `last seen ${new Date(iso).toLocaleDateString()}`;
}

export function PresenceBadge({ presence }: { presence: Presence | undefined }) {
  if (!presence) return <span className="presence unknown">…</span>;
  return presence.online
    ? <span className="presence online"><span className="dot" aria-hidden="true" />online</span>
    : <span className="presence offline"><span className="dot" aria-hidden="true" />{lastSeenText(presence.last_seen)}</span>;
}
