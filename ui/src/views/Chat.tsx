import { api } from "../api";
import { useQuery } from "../hooks";
import { Empty, PageHeader, QueryView, relativeTime } from "../components/ui";

export function Chat() {
  const sessions = useQuery(() => api.chat.sessions(), [], ["chat_session", "chat_message"]);
  return (
    <section>
      <PageHeader title="Chat" subtitle="Talk with an agent or let Ensemble pick the best one." />
      <QueryView query={sessions} label="Loading conversations…">
        {(p) =>
          p.items.length === 0 ? (
            <Empty title="No conversations yet" />
          ) : (
            <ul className="plain list">
              {p.items.map((s) => (
                <li key={s.id}>
                  <strong>{s.title}</strong> <span className="muted small">{s.message_count} messages · {relativeTime(s.updated_at)}</span>
                </li>
              ))}
            </ul>
          )
        }
      </QueryView>
    </section>
  );
}
