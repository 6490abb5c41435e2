// A workflow run as a graph in plain SVG: steps are nodes laid out left to
// right by depth (the longest chain of dependencies before them), edges
// follow depends_on, and each node is coloured by its step state.
import type { StepState } from "../bindings/StepState";
import type { StepStatus } from "../bindings/StepStatus";
import type { WorkflowStep } from "../bindings/WorkflowStep";

export const NODE_W = 168;
export const NODE_H = 52;
const GAP_X = 64;
const GAP_Y = 18;
const PAD = 12;

export interface DagNode {
  key: string;
  title: string;
  depth: number;
  row: number;
  x: number;
  y: number;
}

export interface DagEdge {
  from: string;
  to: string;
  /** SVG path: an edge spanning several depths runs through free slots of the depths between. */
  d: string;
}

export interface DagLayout {
  nodes: DagNode[];
  edges: DagEdge[];
  width: number;
  height: number;
}

const colX = (depth: number) => PAD + depth * (NODE_W + GAP_X);
const rowY = (row: number) => PAD + row * (NODE_H + GAP_Y);

/** A horizontal S-curve from (x1, y1) to (x2, y2). */
function curve(x1: number, y1: number, x2: number, y2: number): string {
  const mid = (x1 + x2) / 2;
  return `C${mid} ${y1} ${mid} ${y2} ${x2} ${y2}`;
}

type StepShape = Pick<WorkflowStep, "key" | "depends_on"> & { title?: string };

/** Depth of each step (0 for roots), rows in definition order within a depth. */
export function layoutDag(steps: StepShape[]): DagLayout {
  const byKey = new Map(steps.map((s) => [s.key, s]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (key: string): number => {
    const known = depth.get(key);
    if (known !== undefined) return known;
    // A cycle cannot be saved, but never loop on one.
    if (visiting.has(key)) return 0;
    visiting.add(key);
    const deps = (byKey.get(key)?.depends_on ?? []).filter((d) => byKey.has(d));
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(depthOf));
    visiting.delete(key);
    depth.set(key, d);
    return d;
  };
  const rows = new Map<number, number>();
  const nodes = steps.map((s) => {
    const d = depthOf(s.key);
    const row = rows.get(d) ?? 0;
    rows.set(d, row + 1);
    return { key: s.key, title: s.title || s.key, depth: d, row, x: colX(d), y: rowY(row) };
  });
  const at = new Map(nodes.map((n) => [n.key, n]));
  const edges: DagEdge[] = steps.flatMap((s) =>
    s.depends_on
      .filter((dep) => byKey.has(dep))
      .map((dep) => {
        const a = at.get(dep) as DagNode;
        const b = at.get(s.key) as DagNode;
        let x = a.x + NODE_W;
        let y = a.y + NODE_H / 2;
        let d = `M${x} ${y}`;
        // Through a free slot of each depth in between, never across a node.
        for (let depth = a.depth + 1; depth < b.depth; depth++) {
          const row = rows.get(depth) ?? 0;
          rows.set(depth, row + 1);
          const sy = rowY(row) + NODE_H / 2;
          d += ` ${curve(x, y, colX(depth), sy)} L${colX(depth) + NODE_W} ${sy}`;
          x = colX(depth) + NODE_W;
          y = sy;
        }
        d += ` ${curve(x, y, b.x, b.y + NODE_H / 2)}`;
        return { from: dep, to: s.key, d };
      }),
  );
  const maxDepth = Math.max(0, ...nodes.map((n) => n.depth));
  const maxRows = Math.max(1, ...rows.values());
  return {
    nodes,
    edges,
    width: PAD * 2 + (maxDepth + 1) * NODE_W + maxDepth * GAP_X,
    height: PAD * 2 + maxRows * NODE_H + (maxRows - 1) * GAP_Y,
  };
}

const LABEL: Record<StepStatus, string> = {
  pending: "pending",
  running: "running",
  completed: "completed",
  failed: "failed",
  skipped: "skipped",
};

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function WorkflowDag(props: {
  steps: StepShape[];
  states: StepState[];
  onSelect?: (state: StepState) => void;
  label?: string;
}) {
  const layout = layoutDag(props.steps);
  const state = new Map(props.states.map((s) => [s.key, s]));
  return (
    <div className="dag-scroll">
      <svg
        className="dag"
        role="group"
        aria-label={props.label ?? "Workflow graph"}
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
      >
        <defs>
          <marker id="dag-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0 0 L10 5 L0 10 z" className="dag-arrow" />
          </marker>
        </defs>
        {layout.edges.map((e) => {
          const done = state.get(e.from)?.status === "completed";
          return (
            <path
              key={`${e.from}->${e.to}`}
              className={done ? "dag-edge done" : "dag-edge"}
              data-edge={`${e.from}->${e.to}`}
              d={e.d}
              markerEnd="url(#dag-arrow)"
            />
          );
        })}
        {layout.nodes.map((n) => {
          const st = state.get(n.key);
          const status: StepStatus = st?.status ?? "pending";
          const clickable = !!(props.onSelect && st?.task_id);
          return (
            <g
              key={n.key}
              className={`dag-node ${status}${clickable ? " clickable" : ""}`}
              data-step={n.key}
              data-status={status}
              transform={`translate(${n.x} ${n.y})`}
              role={clickable ? "button" : "img"}
              tabIndex={clickable ? 0 : undefined}
              aria-label={`${n.title}: ${LABEL[status]}`}
              onClick={clickable && st ? () => props.onSelect?.(st) : undefined}
              onKeyDown={
                clickable && st
                  ? (e) => {
                      if (e.key === "Enter" || e.key === " ") props.onSelect?.(st);
                    }
                  : undefined
              }
            >
              <title>{`${n.title}: ${LABEL[status]}${st?.error ? ` — ${st.error}` : ""}`}</title>
              <rect width={NODE_W} height={NODE_H} rx={9} />
              <text x={12} y={21} className="dag-title">
                {clip(n.title, 20)}
              </text>
              <text x={12} y={39} className="dag-state">
                {LABEL[status]}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
