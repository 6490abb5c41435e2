// The crew editor: name, goal, process, manager, members in order with
// their crew role, rounds and budget caps (saved together through
// crews_update), and the relationships between members (each added or
// removed at once through its own command).
import { useState } from "react";
import { ApiError, toApiError } from "../api";
import type { Agent } from "../bindings/Agent";
import type { CommStyle } from "../bindings/CommStyle";
import type { Crew } from "../bindings/Crew";
import type { CrewInput } from "../bindings/CrewInput";
import type { Process } from "../bindings/Process";
import type { RelationKind } from "../bindings/RelationKind";
import { crewsApi } from "../crewsApi";
import { relationLabel } from "./CrewChart";
import { ErrorText, Field, Modal } from "./ui";

export const PROCESSES: { value: Process; label: string; hint: string }[] = [
  { value: "sequential", label: "Sequential", hint: "A pipeline: each member works in order on the previous output." },
  { value: "hierarchical", label: "Hierarchical", hint: "The manager plans, delegates by capability, reviews and reports." },
  { value: "peer_review", label: "Peer review", hint: "An author drafts, a reviewer critiques, until approved or out of rounds." },
  { value: "consensus", label: "Consensus", hint: "Members answer, see each other's answers and converge; votes are logged." },
  { value: "routed", label: "Routed", hint: "An expert gate picks the best-suited member for each request." },
];

export const RELATION_KINDS: RelationKind[] = ["supervises", "delegates_to", "collaborates_with", "reports_to", "consults"];
const STYLES: CommStyle[] = ["sync", "async", "broadcast"];

interface Row {
  agent_id: string;
  name: string;
  role: string;
}

/** A number field's text as a cap: empty means none. */
function cap(text: string): number | null {
  const t = text.trim();
  if (t === "") return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : NaN;
}

export function CrewEditor(props: { crew: Crew; agents: Agent[]; onClose: () => void; onSaved: (c: Crew) => void }) {
  const c = props.crew;
  const [name, setName] = useState(c.name);
  const [goal, setGoal] = useState(c.goal);
  const [process, setProcess] = useState<Process>(c.process);
  const [manager, setManager] = useState(c.manager_agent_id ?? "");
  const [maxRounds, setMaxRounds] = useState(String(c.max_rounds));
  const [maxTokens, setMaxTokens] = useState(c.budget.max_tokens?.toString() ?? "");
  const [maxCost, setMaxCost] = useState(c.budget.max_cost?.toString() ?? "");
  const [maxWall, setMaxWall] = useState(c.budget.max_wall_secs?.toString() ?? "");
  const [rows, setRows] = useState<Row[]>(c.members.map((m) => ({ agent_id: m.agent_id, name: m.agent_name, role: m.role })));
  const [adding, setAdding] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const candidates = props.agents.filter((a) => !rows.some((r) => r.agent_id === a.id));
  const move = (i: number, by: number) =>
    setRows((rs) => {
      const j = i + by;
      if (j < 0 || j >= rs.length) return rs;
      const next = rs.slice();
      [next[i], next[j]] = [next[j], next[i]];
      return next;
    });

  const save = async () => {
    const budget = { max_tokens: cap(maxTokens), max_cost: cap(maxCost), max_wall_secs: cap(maxWall) };
    const rounds = Number(maxRounds);
    if (Object.values(budget).some((v) => Number.isNaN(v)) || !Number.isInteger(rounds)) {
      setError(new ApiError("INVALID_NUMBER", "Rounds and budget caps must be numbers (leave a cap empty for none)."));
      return;
    }
    const members = rows.map((r) => ({ agent_id: r.agent_id, role: r.role }));
    const input: CrewInput = {
      name,
      goal,
      process,
      // The manager must stay a member; an empty id clears it.
      manager_agent_id: rows.some((r) => r.agent_id === manager) ? manager : "",
      max_rounds: rounds,
      budget,
      members,
    };
    setBusy(true);
    setError(null);
    try {
      const saved = await crewsApi.update(c.id, input);
      props.onSaved(saved);
      props.onClose();
    } catch (e) {
      setError(toApiError(e));
      setBusy(false);
    }
  };

  return (
    <Modal title={`Edit ${c.name}`} onClose={props.onClose} wide>
      <form
        className="form crew-editor"
        aria-label="Crew editor"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Field label="Name">
          <input name="crew-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </Field>
        <Field label="Goal">
          <textarea name="crew-goal" rows={2} value={goal} onChange={(e) => setGoal(e.target.value)} />
        </Field>
        <div className="grid-2">
          <Field label="Process" hint={PROCESSES.find((p) => p.value === process)?.hint}>
            <select name="crew-process" value={process} onChange={(e) => setProcess(e.target.value as Process)}>
              {PROCESSES.map((p) => (
                <option key={p.value} value={p.value}>
                  {p.label}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Manager" hint={process === "hierarchical" ? "Plans and delegates the work." : "Optional outside the hierarchical process."}>
            <select name="crew-manager" value={manager} onChange={(e) => setManager(e.target.value)}>
              <option value="">No manager</option>
              {rows.map((r) => (
                <option key={r.agent_id} value={r.agent_id}>
                  {r.name}
                </option>
              ))}
            </select>
          </Field>
        </div>

        <fieldset className="crew-members">
          <legend>Members, in order</legend>
          {rows.length === 0 && <p className="muted small">No members yet.</p>}
          <ol className="plain">
            {rows.map((r, i) => (
              <li key={r.agent_id} className="crew-member-row" data-agent-id={r.agent_id}>
                <span className="crew-member-pos">{i + 1}.</span>
                <strong className="crew-member-name">{r.name}</strong>
                <input
                  aria-label={`Role of ${r.name}`}
                  placeholder="role in the crew"
                  value={r.role}
                  onChange={(e) => setRows((rs) => rs.map((x) => (x.agent_id === r.agent_id ? { ...x, role: e.target.value } : x)))}
                />
                <button type="button" className="btn small" aria-label={`Move ${r.name} up`} disabled={i === 0} onClick={() => move(i, -1)}>
                  ↑
                </button>
                <button
                  type="button"
                  className="btn small"
                  aria-label={`Move ${r.name} down`}
                  disabled={i === rows.length - 1}
                  onClick={() => move(i, 1)}
                >
                  ↓
                </button>
                <button
                  type="button"
                  className="btn small danger"
                  aria-label={`Remove ${r.name}`}
                  onClick={() => setRows((rs) => rs.filter((x) => x.agent_id !== r.agent_id))}
                >
                  Remove
                </button>
              </li>
            ))}
          </ol>
          <div className="inline-form">
            <select aria-label="Agent to add" value={adding} onChange={(e) => setAdding(e.target.value)}>
              <option value="">Add an agent…</option>
              {candidates.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name} ({a.role})
                </option>
              ))}
            </select>
            <button
              type="button"
              className="btn small"
              disabled={!adding}
              onClick={() => {
                const a = props.agents.find((x) => x.id === adding);
                if (a) setRows((rs) => [...rs, { agent_id: a.id, name: a.name, role: a.role }]);
                setAdding("");
              }}
            >
              Add member
            </button>
          </div>
        </fieldset>

        <div className="grid-2 crew-caps">
          <Field label="Max rounds" hint="Review, consensus and cascade rounds (1–50).">
            <input name="crew-max-rounds" type="number" min={1} max={50} value={maxRounds} onChange={(e) => setMaxRounds(e.target.value)} />
          </Field>
          <Field label="Max tokens per run" hint="Empty: no cap.">
            <input name="crew-max-tokens" type="number" min={1} value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          </Field>
          <Field label="Max cost per run ($)" hint="Empty: no cap.">
            <input name="crew-max-cost" type="number" min={0} step="0.01" value={maxCost} onChange={(e) => setMaxCost(e.target.value)} />
          </Field>
          <Field label="Max time per run (s)" hint="Empty: no cap.">
            <input name="crew-max-wall" type="number" min={1} value={maxWall} onChange={(e) => setMaxWall(e.target.value)} />
          </Field>
        </div>
        <ErrorText error={error} />
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy} data-testid="save-crew">
            Save crew
          </button>
        </div>
      </form>
      <Relationships crew={c} onChanged={props.onSaved} />
    </Modal>
  );
}

/** The crew's relationships: each one removable; a form adds one. */
function Relationships(props: { crew: Crew; onChanged: (c: Crew) => void }) {
  const c = props.crew;
  const names = new Map(c.members.map((m) => [m.agent_id, m.agent_name]));
  const [rels, setRels] = useState(c.relationships);
  const [from, setFrom] = useState(c.members[0]?.agent_id ?? "");
  const [to, setTo] = useState(c.members[1]?.agent_id ?? "");
  const [kind, setKind] = useState<RelationKind>("supervises");
  const [trust, setTrust] = useState("0.5");
  const [style, setStyle] = useState<CommStyle>("sync");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const refresh = async () => {
    const fresh = await crewsApi.get(c.id);
    setRels(fresh.relationships);
    props.onChanged(fresh);
  };
  const act = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
      await refresh();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="crew-relationships" aria-label="Relationships">
      <h3 className="section-title">Relationships</h3>
      <p className="muted small">Saved as soon as you add or remove one. They decide who supervises, delegates to and escalates to whom.</p>
      {rels.length === 0 ? (
        <p className="muted small">No relationships.</p>
      ) : (
        <ul className="plain">
          {rels.map((r) => (
            <li key={r.id} className="crew-rel-row" data-kind={r.kind}>
              <span>
                <strong>{names.get(r.from_agent_id) ?? "?"}</strong> {relationLabel(r.kind)} <strong>{names.get(r.to_agent_id) ?? "?"}</strong>
              </span>
              <span className="muted small">
                trust {r.trust_level.toFixed(2)} · {r.communication_style}
              </span>
              <button
                type="button"
                className="btn small danger"
                disabled={busy}
                aria-label={`Remove ${names.get(r.from_agent_id)} ${relationLabel(r.kind)} ${names.get(r.to_agent_id)}`}
                onClick={() => void act(() => crewsApi.removeRelationship(r.id))}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {c.members.length >= 2 && (
        <form
          className="inline-form crew-rel-form"
          onSubmit={(e) => {
            e.preventDefault();
            const t = Number(trust);
            if (!(t >= 0 && t <= 1)) {
              setError(new ApiError("INVALID_NUMBER", "Trust is a number from 0 to 1."));
              return;
            }
            void act(() =>
              crewsApi.addRelationship(c.id, { from_agent_id: from, to_agent_id: to, kind, trust_level: t, communication_style: style }),
            );
          }}
        >
          <select aria-label="From" value={from} onChange={(e) => setFrom(e.target.value)}>
            {c.members.map((m) => (
              <option key={m.agent_id} value={m.agent_id}>
                {m.agent_name}
              </option>
            ))}
          </select>
          <select aria-label="Relationship" value={kind} onChange={(e) => setKind(e.target.value as RelationKind)}>
            {RELATION_KINDS.map((k) => (
              <option key={k} value={k}>
                {relationLabel(k)}
              </option>
            ))}
          </select>
          <select aria-label="To" value={to} onChange={(e) => setTo(e.target.value)}>
            {c.members.map((m) => (
              <option key={m.agent_id} value={m.agent_id}>
                {m.agent_name}
              </option>
            ))}
          </select>
          <input aria-label="Trust" type="number" min={0} max={1} step="0.1" value={trust} onChange={(e) => setTrust(e.target.value)} />
          <select aria-label="Communication" value={style} onChange={(e) => setStyle(e.target.value as CommStyle)}>
            {STYLES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          <button type="submit" className="btn small" disabled={busy || !from || !to}>
            Add relationship
          </button>
        </form>
      )}
      {c.members.length < 2 && <p className="muted small">A relationship needs two members.</p>}
      <ErrorText error={error} />
    </section>
  );
}
