// People: a paged list with presence, and a search box. The gateway's list has no search
// parameter, so a search reads the list 100 at a time (each page is cached by the gateway) and
// filters by username and display name here.
import { useEffect, useState } from "react";
import type { UserPage, UserPublic } from "../api/types";
import { useSignedInUser } from "../auth/AuthContext";
import { Empty, ErrorNotice, Loading } from "../components/ErrorNotice";
import { PresenceBadge } from "../components/PresenceBadge";
import { useResync } from "../realtime/RealtimeContext";
import { href } from "../router";
import { useApi } from "../services";
import { useDirectory } from "../stores/DirectoryContext";
import { ConnectButton } from "./UserPage";

const PAGE_SIZE = 10;
const SCAN_PAGE = 100;
const SCAN_LIMIT = 20; // pages of 100: searches the first 2,000 users

export function matches(user: UserPublic, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return user.username.toLowerCase().includes(q) || (user.display_name ?? "").toLowerCase().includes(q);
}

export function UsersPage() {
  const api = useApi();
  const me = useSignedInUser();
  const { presence, watchPresence, remember } = useDirectory();
  const [input, setInput] = useState("");
  const [query, setQuery] = useState("");
  const [page, setPage] = useState(1);
  const [result, setResult] = useState<{ items: UserPublic[]; total: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const timer = setTimeout(() => {
      setQuery(input.trim());
      setPage(1);
    }, 250);
    return () => clearTimeout(timer);
  }, [input]);

  useEffect(() => {
    let cancelled = false;
    async function load() {
      try {
        if (!query) {
          const answer = await api.get<UserPage>("/api/users", { page, size: PAGE_SIZE });
          if (!cancelled) setResult({ items: answer.items, total: answer.total });
        } else {
          const found: UserPublic[] = [];
          for (let p = 1; p <= SCAN_LIMIT; p++) {
            const answer = await api.get<UserPage>("/api/users", { page: p, size: SCAN_PAGE });
            found.push(...answer.items.filter((u) => matches(u, query)));
            if (p * SCAN_PAGE >= answer.total || cancelled) break;
          }
          const start = (page - 1) * PAGE_SIZE;
          if (!cancelled) setResult({ items: found.slice(start, start + PAGE_SIZE), total: found.length });
        }
        if (!cancelled) setError(null);
      } catch (e) {
        if (!cancelled) setError(e);
      }
    }
    void load();
    return () => {
      cancelled = true;
    };
  }, [api, query, page, tick]);

  useResync(() => setTick((t) => t + 1));

  useEffect(() => {
    if (!result) return;
    remember(result.items);
    watchPresence(result.items.map((u) => u.id));
  }, [result, remember, watchPresence]);

  const pages = result ? Math.max(1, Math.ceil(result.total / PAGE_SIZE)) : 1;
  return (
    <section aria-labelledby="people-title">
      <h2 id="people-title">People</h2>
      <label className="search">
        Search people
        <input type="search" name="q" placeholder="username or name" value={input} onChange={(e) => setInput(e.target.value)} />
      </label>
      <ErrorNotice error={error} />
      {!result ? (!error && <Loading what="people" />) : result.items.length === 0 ? (
        <Empty>{query ? `Nobody matches “${query}”.` : "Nobody here yet."}</Empty>
      ) : (
        <ul className="list" aria-label="People">
          {result.items.map((user) => (
            <li key={user.id} className="row-item" data-testid={`person-${user.username}`}>
              <a href={user.id === me.id ? "#/profile" : href({ name: "user", id: user.id })}>
                {user.display_name || user.username}
              </a>
              <span className="muted">@{user.username}{user.id === me.id ? " (you)" : ""}</span>
              <PresenceBadge presence={presence.get(user.id)} />
              {user.id !== me.id && <ConnectButton userId={user.id} />}
            </li>
          ))}
        </ul>
      )}
      {result && result.total > PAGE_SIZE && (
        <nav className="pager" aria-label="Pages">
          <button type="button" disabled={page <= 1} onClick={() => setPage((p) => p - 1)}>Previous</button>
          <span>Page {page} of {pages}</span>
          <button type="button" disabled={page >= pages} onClick={() => setPage((p) => p + 1)}>Next</button>
        </nav>
      )}
    </section>
  );
}
