// Someone else's profile: name, bio, presence, and what you can do with them (connect, chat).
import { useCallback, useEffect, useState } from "react";
import type { UserPublic } from "../api/types";
import { useSignedInUser } from "../auth/AuthContext";
import { ErrorNotice, Loading } from "../components/ErrorNotice";
import { PresenceBadge } from "../components/PresenceBadge";
import { useResync } from "../realtime/RealtimeContext";
import { href } from "../router";
import { useApi } from "../services";
import { useDirectory } from "../stores/DirectoryContext";
import { useConnections } from "../stores/ConnectionsContext";

export function ConnectButton({ userId }: { userId: number }) {
  const { relation, request } = useConnections();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const state = relation(userId);
  if (state === "connected") return <a className="button" href={href({ name: "chat", peerId: userId })}>Message</a>;
  if (state === "outgoing") return <span className="muted">Request sent</span>;
  if (state === "incoming") return <a className="button" href={href({ name: "connections" })}>Answer request</a>;
  return (
    <span>
      <button type="button" disabled={busy} onClick={async () => {
        setBusy(true);
        setError(null);
        try {
          await request(userId);
        } catch (e) {
          setError(e);
        } finally {
          setBusy(false);
        }
      }}>Connect</button>
      <ErrorNotice error={error} />
    </span>
  );
}

export function UserPage({ id }: { id: number }) {
  const api = useApi();
  const me = useSignedInUser();
  const { remember, presence, watchPresence } = useDirectory();
  const [user, setUser] = useState<UserPublic | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      const found = await api.get<UserPublic>(`/api/users/${id}`);
      setUser(found);
      remember([found]);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api, id, remember]);

  useEffect(() => {
    setUser(null);
    void load();
    watchPresence([id]);
  }, [id, load, watchPresence]);
  useResync(() => void load());

  if (id === me.id) {
    window.location.hash = "#/profile";
    return null;
  }
  if (!user) return error ? <ErrorNotice error={error} /> : <Loading what="the profile" />;
  return (
    <section aria-labelledby="user-title">
      <h2 id="user-title" data-testid="user-display-name">{user.display_name || user.username}</h2>
      <div className="card profile">
        <p className="muted">@{user.username} · <PresenceBadge presence={presence.get(id)} /></p>
        <p className="bio" data-testid="user-bio">{user.bio || <span className="muted">No bio yet.</span>}</p>
        <p className="muted">Joined {new Date(user.created_at).toLocaleDateString()}</p>
        <ConnectButton userId={id} />
      </div>
      <p><a href="#/users">← All people</a></p>
    </section>
  );
}
