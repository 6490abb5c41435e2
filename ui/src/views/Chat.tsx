import { useEffect, useMemo, useRef, useState } from "react";
import Markdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { api, ApiError, toApiError } from "../api";
import type { ChatEvent } from "../bindings/ChatEvent";
import type { ChatMessage } from "../bindings/ChatMessage";
import { useQuery } from "../hooks";
import { Badge, Empty, ErrorText, PageHeader, QueryView, relativeTime } from "../components/ui";

/** The agent picker's choice that lets the expert gate pick per message. */
const AUTO = "__auto__";

/** The answer being streamed right now. */
export interface LiveAnswer {
  messageId: string;
  userMessage: ChatMessage;
  text: string;
  agentName: string | null;
  provider: string;
  model: string;
}

/** Applies one stream event to the live answer (pure, for tests). */
export function applyEvent(live: LiveAnswer | null, ev: ChatEvent): LiveAnswer | null {
  switch (ev.event) {
    case "started":
      return {
        messageId: ev.data.message_id,
        userMessage: ev.data.user_message,
        text: "",
        agentName: ev.data.agent_name,
        provider: ev.data.provider,
        model: ev.data.model,
      };
    case "delta":
      return live ? { ...live, text: live.text + ev.data.text } : live;
    case "tool_call":
      return live;
    case "finish":
    case "error":
      return null;
  }
}

function meta(m: ChatMessage): Record<string, unknown> {
  return m.metadata && typeof m.metadata === "object" && !Array.isArray(m.metadata)
    ? (m.metadata as Record<string, unknown>)
    : {};
}

export function MessageBody(props: { text: string; streaming?: boolean }) {
  return (
    <div className="markdown">
      <Markdown remarkPlugins={[remarkGfm]} skipHtml>
        {props.text}
      </Markdown>
      {props.streaming && <span className="cursor" aria-hidden="true" />}
    </div>
  );
}

function AssistantMessage(props: { m: ChatMessage; agentName: string | null }) {
  const md = meta(props.m);
  const err = md.error as { message?: string; code?: string } | undefined;
  return (
    <article className={`bubble assistant status-${props.m.status}`} data-message-id={props.m.id} data-status={props.m.status}>
      <header className="bubble-head">
        <strong>{props.agentName ?? "Assistant"}</strong>
        {typeof md.model === "string" && md.model && (
          <span className="muted small">
            {String(md.provider)} · {md.model}
          </span>
        )}
        {props.m.status === "stopped" && <Badge tone="warn">stopped</Badge>}
        {props.m.status === "error" && <Badge tone="bad">failed</Badge>}
      </header>
      {props.m.content ? <MessageBody text={props.m.content} /> : props.m.status === "error" ? null : <p className="muted">(no text)</p>}
      {err?.message && (
        <p className="error-text" role="alert">
          {err.message}
        </p>
      )}
    </article>
  );
}

export function Chat() {
  const sessions = useQuery(() => api.chat.sessions({ limit: 200 }), [], ["chat_session"]);
  const agents = useQuery(() => api.agents.list(undefined, { limit: 1000 }), [], ["agent"]);
  const [sessionId, setSessionId] = useState<string | null>(null);
  const messages = useQuery(
    () => (sessionId ? api.chat.messages(sessionId, { limit: 1000 }) : Promise.resolve(null)),
    [sessionId],
    ["chat_message"],
  );
  const [agentId, setAgentId] = useState("");
  const [text, setText] = useState("");
  const [live, setLive] = useState<LiveAnswer | null>(null);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const threadRef = useRef<HTMLDivElement>(null);

  const agentName = useMemo(() => {
    const m = new Map<string, string>();
    agents.data?.items.forEach((a) => m.set(a.id, a.name));
    return (id: string | null) => (id ? m.get(id) ?? "Agent" : null);
  }, [agents.data]);

  // Follow the session's agent when switching sessions.
  useEffect(() => {
    const s = sessions.data?.items.find((x) => x.id === sessionId);
    setAgentId(s?.auto_route ? AUTO : s?.agent_id ?? "");
  }, [sessionId, sessions.data]);

  useEffect(() => {
    const el = threadRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [live?.text, messages.data]);

  const send = async () => {
    const body = text.trim();
    if (!body || sending) return;
    setSending(true);
    setError(null);
    setText("");
    try {
      const auto = agentId === AUTO;
      const request = {
        session_id: sessionId ?? undefined,
        text: body,
        agent_id: auto ? undefined : agentId || undefined,
        auto_route: auto,
      };
      await api.chat.send(request, (ev) => {
        if (ev.event === "started") setSessionId(ev.data.session_id);
        setLive((l) => applyEvent(l, ev));
      });
    } catch (e) {
      setError(toApiError(e));
      setText(body);
    } finally {
      setLive(null);
      setSending(false);
      messages.reload();
      sessions.reload();
    }
  };

  const stop = async () => {
    if (!live) return;
    try {
      await api.chat.stop(live.messageId);
    } catch (e) {
      setError(toApiError(e));
    }
  };

  const stored = (messages.data?.items ?? []).filter((m) => m.id !== live?.messageId);
  const shown = live && !stored.some((m) => m.id === live.userMessage.id) ? [...stored, live.userMessage] : stored;

  return (
    <section className="chat-view">
      <PageHeader title="Chat" subtitle="Talk with an agent, on your local models." />
      <div className="chat-layout">
        <aside className="sessions" aria-label="Conversations">
          <button
            type="button"
            className="btn primary wide"
            data-testid="new-chat"
            onClick={() => {
              setSessionId(null);
              setError(null);
            }}
            disabled={sending}
          >
            New chat
          </button>
          <QueryView query={sessions}>
            {(p) =>
              p.items.length === 0 ? (
                <p className="muted small">No conversations yet.</p>
              ) : (
                <ul className="plain session-list">
                  {p.items.map((s) => (
                    <li key={s.id}>
                      <button
                        type="button"
                        className={s.id === sessionId ? "session active" : "session"}
                        onClick={() => setSessionId(s.id)}
                        disabled={sending}
                      >
                        <span className="session-title">{s.title}</span>
                        <span className="muted small">
                          {s.message_count} · {relativeTime(s.updated_at)}
                        </span>
                      </button>
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </aside>
        <div className="conversation">
          <div className="thread" ref={threadRef} aria-live="polite">
            {shown.length === 0 && !live && (
              <Empty title="Ask anything">
                Answers come from the agent you pick, or from the default model (Ollama when it runs, otherwise the
                embedded one).
              </Empty>
            )}
            {shown.map((m) =>
              m.role === "user" ? (
                <article key={m.id} className="bubble user" data-message-id={m.id}>
                  <MessageBody text={m.content} />
                </article>
              ) : (
                <AssistantMessage key={m.id} m={m} agentName={agentName(m.agent_id)} />
              ),
            )}
            {live && (
              <article className="bubble assistant streaming" data-message-id={live.messageId} data-status="streaming">
                <header className="bubble-head">
                  <strong>{live.agentName ?? "Assistant"}</strong>
                  <span className="muted small">
                    {live.provider} · {live.model}
                  </span>
                  <Badge tone="info">writing…</Badge>
                </header>
                <MessageBody text={live.text} streaming />
              </article>
            )}
          </div>
          <ErrorText error={error} />
          <form
            className="composer"
            onSubmit={(e) => {
              e.preventDefault();
              void send();
            }}
          >
            <select aria-label="Agent" value={agentId} onChange={(e) => setAgentId(e.target.value)} disabled={sending}>
              <option value="">Default assistant</option>
              <option value={AUTO}>Auto: the best agent for each message</option>
              {agents.data?.items.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
            <textarea
              aria-label="Message"
              placeholder="Write a message… (Enter to send, Shift+Enter for a new line)"
              rows={2}
              value={text}
              onChange={(e) => setText(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey) {
                  e.preventDefault();
                  void send();
                }
              }}
            />
            {live ? (
              <button type="button" className="btn danger" onClick={stop} data-testid="stop">
                Stop
              </button>
            ) : (
              <button type="submit" className="btn primary" disabled={sending || !text.trim()} data-testid="send">
                Send
              </button>
            )}
          </form>
        </div>
      </div>
    </section>
  );
}
