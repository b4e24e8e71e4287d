// Incoming requests (Accept / Reject), the ones you sent, and your connections.
import { useState } from "react";
import type { Connection } from "../api/types";
import { Empty, ErrorNotice, Loading } from "../components/ErrorNotice";
import { PresenceBadge } from "../components/PresenceBadge";
import { href } from "../router";
import { displayName, useDirectory } from "../stores/DirectoryContext";
import { useConnections } from "../stores/ConnectionsContext";
import { useEffect } from "react";

function Who({ connection }: { connection: Connection }) {
  return <a href={href({ name: "user", id: connection.user.id })}>{displayName(connection.user, connection.user.id)}</a>;
}

function IncomingRow({ connection }: { connection: Connection }) {
  const { accept, reject } = useConnections();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function run(action: (id: number) => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await action(connection.id);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }
  return (
    <li className="row-item" data-testid={`incoming-${connection.user.username}`}>
      <Who connection={connection} />
      <span className="actions">
        <button type="button" className="primary" disabled={busy} onClick={() => run(accept)}>Accept</button>
        <button type="button" disabled={busy} onClick={() => run(reject)}>Reject</button>
      </span>
      <ErrorNotice error={error} />
    </li>
  );
}

export function ConnectionsPage() {
  const { connections, incoming, outgoing, loaded, error } = useConnections();
  const { presence, watchPresence } = useDirectory();

  useEffect(() => {
    watchPresence(connections.map((c) => c.user.id));
  }, [connections, watchPresence]);

  if (!loaded) return error ? <ErrorNotice error={error} /> : <Loading what="your connections" />;
  return (
    <section aria-labelledby="connections-title">
      <h2 id="connections-title">Connections</h2>
      <ErrorNotice error={error} />
      <h3>Requests to you</h3>
      {incoming.length ? (
        <ul className="list" aria-label="Incoming requests">
          {incoming.map((c) => <IncomingRow key={c.id} connection={c} />)}
        </ul>
      ) : <Empty>No requests waiting for you.</Empty>}
      <h3>Requests you sent</h3>
      {outgoing.length ? (
        <ul className="list" aria-label="Outgoing requests">
          {outgoing.map((c) => <li key={c.id} className="row-item"><Who connection={c} /><span className="muted">pending</span></li>)}
        </ul>
      ) : <Empty>No pending requests from you. Find people under <a href="#/users">People</a>.</Empty>}
      <h3>Your connections</h3>
      {connections.length ? (
        <ul className="list" aria-label="Your connections">
          {connections.map((c) => (
            <li key={c.id} className="row-item" data-testid={`connection-${c.user.username}`}>
              <Who connection={c} />
              <PresenceBadge presence={presence.get(c.user.id)} />
              <a className="button" href={href({ name: "chat", peerId: c.user.id })}>Message</a>
            </li>
          ))}
        </ul>
      ) : <Empty>No connections yet.</Empty>}
    </section>
  );
}
