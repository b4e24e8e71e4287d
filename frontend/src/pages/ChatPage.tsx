// Conversations with your connections: the newest page, older pages when you scroll up, new
// messages from the socket as they come, and a refetch of the newest page after any gap.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent } from "react";
import type { Message, MessagePage, ServerFrame } from "../api/types";
import { useSignedInUser } from "../auth/AuthContext";
import { Empty, ErrorNotice, Loading } from "../components/ErrorNotice";
import { PresenceBadge } from "../components/PresenceBadge";
import { useFrames, useResync } from "../realtime/RealtimeContext";
import { href } from "../router";
import { useApi } from "../services";
import { useConnections } from "../stores/ConnectionsContext";
import { displayName, useDirectory, usePersonName } from "../stores/DirectoryContext";

const PAGE = 20;

export function mergeMessages(current: Message[], incoming: Message[]): Message[] {
  const byId = new Map(current.map((m) => [m.id, m]));
  for (const m of incoming) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

function time(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function Conversation({ peerId }: { peerId: number }) {
  const api = useApi();
  const me = useSignedInUser();
  const peerName = usePersonName(peerId);
  const { presence, watchPresence } = useDirectory();
  const [messages, setMessages] = useState<Message[]>([]);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [text, setText] = useState("");
  const [sendError, setSendError] = useState<unknown>(null);
  const [sending, setSending] = useState(false);
  const scroller = useRef<HTMLDivElement>(null);
  // How to place the scroll after the next render: keep the view (older page added above) or
  // stick to the bottom (first page, a new message while at the bottom).
  const pendingScroll = useRef<{ kind: "bottom" } | { kind: "keep"; height: number; top: number } | null>(null);

  const nearBottom = () => {
    const el = scroller.current;
    return !el || el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  };

  const loadNewest = useCallback(async (first: boolean) => {
    try {
      const page = await api.get<MessagePage>(`/api/messages/${peerId}`, { limit: PAGE });
      if (first || nearBottom()) pendingScroll.current = { kind: "bottom" };
      setMessages((prev) => (first ? page.items : mergeMessages(prev, page.items)));
      if (first) setNextBefore(page.next_before);
      setError(null);
      setLoaded(true);
    } catch (e) {
      setError(e);
    }
  }, [api, peerId]);

  useEffect(() => {
    setMessages([]);
    setNextBefore(null);
    setLoaded(false);
    setSendError(null);
    void loadNewest(true);
    watchPresence([peerId]);
  }, [peerId, loadNewest, watchPresence]);

  useResync(() => void loadNewest(false));

  useFrames((frame: ServerFrame) => {
    if (frame.type !== "message" || !("message" in frame)) return;
    const m = frame.message as Message;
    const inThisConversation = (m.from_user_id === peerId && m.to_user_id === me.id)
      || (m.from_user_id === me.id && m.to_user_id === peerId);
    if (!inThisConversation) return;
    if (nearBottom()) pendingScroll.current = { kind: "bottom" };
    setMessages((prev) => mergeMessages(prev, [m]));
  });

  const loadOlder = useCallback(async () => {
    if (nextBefore === null || loadingOlder) return;
    setLoadingOlder(true);
    try {
      const page = await api.get<MessagePage>(`/api/messages/${peerId}`, { limit: PAGE, before: nextBefore });
      const el = scroller.current;
      if (el) pendingScroll.current = { kind: "keep", height: el.scrollHeight, top: el.scrollTop };
      setMessages((prev) => mergeMessages(prev, page.items));
      setNextBefore(page.next_before);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingOlder(false);
    }
  }, [api, peerId, nextBefore, loadingOlder]);

  useLayoutEffect(() => {
    const el = scroller.current;
    const pending = pendingScroll.current;
    pendingScroll.current = null;
    if (!el || !pending) return;
    if (pending.kind === "bottom") el.scrollTop = el.scrollHeight;
    else el.scrollTop = el.scrollHeight - pending.height + pending.top;
  }, [messages]);

  async function send(event: FormEvent) {
    event.preventDefault();
    const body = text;
    if (!body.trim()) return;
    setSending(true);
    setSendError(null);
    try {
      const sent = await api.post<Message>("/api/messages", { to_user_id: peerId, text: body });
      pendingScroll.current = { kind: "bottom" };
      setMessages((prev) => mergeMessages(prev, [sent]));
      setText("");
    } catch (e) {
      setSendError(e);
    } finally {
      setSending(false);
    }
  }

  return (
    <section className="conversation" aria-label={`Conversation with ${peerName}`}>
      <header className="conversation-head">
        <h3><a href={href({ name: "user", id: peerId })}>{peerName}</a></h3>
        <PresenceBadge presence={presence.get(peerId)} />
      </header>
      <div className="messages" ref={scroller} data-testid="messages" role="log" aria-live="polite"
           onScroll={(e) => { if (e.currentTarget.scrollTop < 48) void loadOlder(); }}>
        {nextBefore !== null && (
          <button type="button" className="link older" disabled={loadingOlder} onClick={() => void loadOlder()}>
            {loadingOlder ? "Loading older messages…" : "Load older messages"}
          </button>
        )}
        {!loaded ? (error ? null : <Loading what="messages" />) : messages.length === 0 ? (
          <Empty>No messages yet. Say hello!</Empty>
        ) : messages.map((m) => (
          <div key={m.id} className={`bubble ${m.from_user_id === me.id ? "mine" : "theirs"}`} data-message-id={m.id}>
            <span className="text">{m.text}</span>
            <time dateTime={m.created_at}>{time(m.created_at)}</time>
          </div>
        ))}
      </div>
      <ErrorNotice error={error} />
      <form className="composer" onSubmit={send}>
        <label className="grow">
          Message
          <input name="text" maxLength={4000} autoComplete="off" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={sending || !text.trim()}>Send</button>
      </form>
      <ErrorNotice error={sendError} />
    </section>
  );
}

export function ChatPage({ peerId }: { peerId: number | null }) {
  const { connections, loaded, error } = useConnections();
  const { presence, watchPresence } = useDirectory();

  useEffect(() => {
    watchPresence(connections.map((c) => c.user.id));
  }, [connections, watchPresence]);

  return (
    <section className="chat" aria-labelledby="chat-title">
      <h2 id="chat-title" className="visually-hidden">Chat</h2>
      <aside className="chat-list">
        <h3>Conversations</h3>
        {!loaded ? (error ? <ErrorNotice error={error} /> : <Loading what="conversations" />) : connections.length === 0 ? (
          <Empty>Connect with someone to chat. <a href="#/users">Find people</a></Empty>
        ) : (
          <ul className="list" aria-label="Conversations">
            {connections.map((c) => (
              <li key={c.id} className={c.user.id === peerId ? "active" : undefined}>
                <a href={href({ name: "chat", peerId: c.user.id })} aria-current={c.user.id === peerId ? "page" : undefined}>
                  {displayName(c.user, c.user.id)}
                </a>
                <PresenceBadge presence={presence.get(c.user.id)} />
              </li>
            ))}
          </ul>
        )}
      </aside>
      <div className="chat-main">
        {peerId === null ? <Empty>Pick a conversation.</Empty> : <Conversation key={peerId} peerId={peerId} />}
      </div>
    </section>
  );
}
