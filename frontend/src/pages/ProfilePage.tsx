// Your own profile: what others see, plus email and views; edit the display name and bio.
import { useEffect, useState, type FormEvent } from "react";
import type { UserPrivate } from "../api/types";
import { useAuth, useSignedInUser } from "../auth/AuthContext";
import { ErrorNotice, Loading } from "../components/ErrorNotice";
import { useResync } from "../realtime/RealtimeContext";
import { useApi } from "../services";

export function ProfilePage() {
  const api = useApi();
  const me = useSignedInUser();
  const { setUser } = useAuth();
  const [profile, setProfile] = useState<UserPrivate | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const [displayName, setDisplayName] = useState("");
  const [bio, setBio] = useState("");
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  async function load() {
    try {
      setProfile(await api.get<UserPrivate>(`/api/users/${me.id}`));
      setLoadError(null);
    } catch (e) {
      setLoadError(e);
    }
  }

  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [me.id]);
  useResync(() => void load());

  function startEditing() {
    setDisplayName(profile?.display_name ?? "");
    setBio(profile?.bio ?? "");
    setSaveError(null);
    setSaved(false);
    setEditing(true);
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setSaveError(null);
    try {
      const name = displayName.trim();
      const updated = await api.patch<UserPrivate>("/api/users/me", { display_name: name || null, bio });
      setProfile((prev) => ({ ...(prev ?? me), ...updated }));
      setUser({ ...me, ...updated });
      setEditing(false);
      setSaved(true);
    } catch (e) {
      setSaveError(e);
    } finally {
      setBusy(false);
    }
  }

  if (!profile) return loadError ? <ErrorNotice error={loadError} /> : <Loading what="your profile" />;
  return (
    <section aria-labelledby="profile-title">
      <h2 id="profile-title">Your profile</h2>
      {!editing ? (
        <div className="card profile">
          <p className="display-name" data-testid="profile-display-name">{profile.display_name || profile.username}</p>
          <p className="muted">@{profile.username} · {profile.email}</p>
          <p className="bio" data-testid="profile-bio">{profile.bio || <span className="muted">No bio yet.</span>}</p>
          <p className="muted">Profile views: {profile.profile_views ?? 0}</p>
          {saved && <p role="status" className="ok">Profile saved.</p>}
          <button type="button" onClick={startEditing}>Edit profile</button>
        </div>
      ) : (
        <form className="card" onSubmit={save} aria-label="Edit profile">
          <label>
            Display name
            <input name="display_name" maxLength={100} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
          </label>
          <label>
            Bio
            <textarea name="bio" maxLength={2000} rows={4} value={bio} onChange={(e) => setBio(e.target.value)} />
          </label>
          <ErrorNotice error={saveError} />
          <div className="row">
            <button type="submit" className="primary" disabled={busy}>Save</button>
            <button type="button" onClick={() => setEditing(false)}>Cancel</button>
          </div>
        </form>
      )}
    </section>
  );
}
