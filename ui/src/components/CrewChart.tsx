// The relationship chart of a crew: members as nodes on a circle (in crew
// order, the first at the top), each relationship a labelled arrow from
// one member to another. Two opposite relationships between the same pair
// bend apart so both stay readable.
import type { CrewMember } from "../bindings/CrewMember";
import type { Relationship } from "../bindings/Relationship";

export const CHART_NODE_W = 130;
export const CHART_NODE_H = 44;
const PAD = 30;

export interface ChartNode {
  id: string;
  name: string;
  role: string;
  x: number;
  y: number;
  manager: boolean;
}

export interface ChartEdge {
  id: string;
  from: string;
  to: string;
  kind: string;
  trust: number;
  /** SVG path from the border of one node to the border of the other. */
  d: string;
  labelX: number;
  labelY: number;
}

export function relationLabel(kind: string): string {
  return kind.replace(/_/g, " ");
}

/** Where the segment from the centre of a node towards (dx, dy) leaves its box. */
function exitPoint(cx: number, cy: number, dx: number, dy: number): [number, number] {
  const hw = CHART_NODE_W / 2 + 4;
  const hh = CHART_NODE_H / 2 + 4;
  const t = Math.min(dx === 0 ? Infinity : hw / Math.abs(dx), dy === 0 ? Infinity : hh / Math.abs(dy));
  return [cx + dx * t, cy + dy * t];
}

export function layoutCrew(members: CrewMember[], relationships: Relationship[], managerId: string | null) {
  const n = members.length;
  // A circle roomy enough that neighbouring boxes do not touch.
  const radius = n <= 1 ? 0 : n === 2 ? 120 : Math.max(110, (CHART_NODE_W + 40) / (2 * Math.sin(Math.PI / n)));
  const width = Math.max(2 * radius + CHART_NODE_W + 2 * PAD, 320);
  const height = n === 2 ? CHART_NODE_H + 2 * PAD + 60 : 2 * radius + CHART_NODE_H + 2 * PAD;
  const cx = width / 2;
  const cy = height / 2;
  const nodes: ChartNode[] = members.map((m, i) => {
    // Two members side by side read better than one above the other.
    const a = n === 2 ? Math.PI * i + Math.PI : -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
    return {
      id: m.agent_id,
      name: m.agent_name,
      role: m.role,
      x: cx + radius * Math.cos(a),
      y: n === 2 ? cy : cy + radius * Math.sin(a),
      manager: m.agent_id === managerId,
    };
  });
  const at = new Map(nodes.map((nd) => [nd.id, nd]));
  const pairs = new Set(relationships.map((r) => `${r.from_agent_id}>${r.to_agent_id}`));
  const edges: ChartEdge[] = [];
  for (const r of relationships) {
    const a = at.get(r.from_agent_id);
    const b = at.get(r.to_agent_id);
    if (!a || !b || a === b) continue;
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    // Bend to the left of the direction of travel when the reverse edge exists too.
    const bend = pairs.has(`${r.to_agent_id}>${r.from_agent_id}`) ? 28 : 0;
    const nx = -dy / len;
    const ny = dx / len;
    const mx = (a.x + b.x) / 2 + nx * bend;
    const my = (a.y + b.y) / 2 + ny * bend;
    const [x1, y1] = exitPoint(a.x, a.y, mx - a.x, my - a.y);
    const [x2, y2] = exitPoint(b.x, b.y, mx - b.x, my - b.y);
    const d = bend === 0 ? `M${r1(x1)} ${r1(y1)} L${r1(x2)} ${r1(y2)}` : `M${r1(x1)} ${r1(y1)} Q${r1(mx)} ${r1(my)} ${r1(x2)} ${r1(y2)}`;
    // The label sits on the curve's midpoint (halfway to the control point for a quadratic).
    const lx = bend === 0 ? (x1 + x2) / 2 : (x1 + 2 * mx + x2) / 4;
    const ly = bend === 0 ? (y1 + y2) / 2 : (y1 + 2 * my + y2) / 4;
    edges.push({ id: r.id, from: r.from_agent_id, to: r.to_agent_id, kind: r.kind, trust: r.trust_level, d, labelX: lx, labelY: ly });
  }
  return { nodes, edges, width, height };
}

function r1(v: number) {
  return Math.round(v * 10) / 10;
}

function fit(text: string, max: number) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function CrewChart(props: { members: CrewMember[]; relationships: Relationship[]; managerId: string | null; label?: string }) {
  if (props.members.length === 0) return <p className="muted small">No members yet: add some in the editor.</p>;
  const l = layoutCrew(props.members, props.relationships, props.managerId);
  const byId = new Map(l.nodes.map((n) => [n.id, n.name]));
  return (
    <div className="dag-scroll crew-chart">
      <svg
        className="dag"
        width={l.width}
        height={l.height}
        viewBox={`0 0 ${l.width} ${l.height}`}
        role="group"
        aria-label={props.label ?? "Relationship chart"}
      >
        <defs>
          <marker id="crew-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0 0 L10 5 L0 10 z" className="dag-arrow" />
          </marker>
        </defs>
        {l.edges.map((e) => (
          <g
            key={e.id}
            className={`crew-edge ${e.kind}`}
            data-kind={e.kind}
            data-from={e.from}
            data-to={e.to}
            aria-label={`${byId.get(e.from)} ${relationLabel(e.kind)} ${byId.get(e.to)}, trust ${e.trust.toFixed(1)}`}
          >
            <title>{`${byId.get(e.from)} ${relationLabel(e.kind)} ${byId.get(e.to)} (trust ${e.trust.toFixed(2)})`}</title>
            <path d={e.d} className="dag-edge" markerEnd="url(#crew-arrow)" strokeWidth={1 + 2 * e.trust} />
            <text x={e.labelX} y={e.labelY - 4} textAnchor="middle" className="crew-edge-label">
              {relationLabel(e.kind)}
            </text>
          </g>
        ))}
        {l.nodes.map((n) => (
          <g
            key={n.id}
            className={n.manager ? "dag-node crew-node manager" : "dag-node crew-node"}
            data-agent-id={n.id}
            transform={`translate(${r1(n.x - CHART_NODE_W / 2)} ${r1(n.y - CHART_NODE_H / 2)})`}
          >
            <rect width={CHART_NODE_W} height={CHART_NODE_H} rx={8} />
            <text x={10} y={18} className="dag-title">
              {fit(n.name, 16)}
            </text>
            <text x={10} y={34} className="dag-state">
              {fit(n.manager ? `manager · ${n.role}` : n.role || "member", 20)}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}
