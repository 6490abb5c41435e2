// What dragging a card on the task board means. Agents and the scheduler own
// Planning, Running, Waiting and Completed; a human can re-queue a failed
// task (a retry), cancel an unfinished one, and reorder a column, which
// changes priority (columns are sorted by priority, then age).
import type { Task } from "./bindings/Task";

export type Move =
  | { kind: "none" }
  | { kind: "priority"; priority: number }
  | { kind: "retry" }
  | { kind: "cancel" }
  | { kind: "refused"; reason: string };

const UNFINISHED = ["queued", "planning", "running", "waiting_input", "awaiting_approval", "delegated", "reviewing"];

/**
 * The priority that puts a card at `index` of `others` (the column without
 * the card, in display order); its `current` priority when that already does.
 */
export function priorityAt(others: Task[], index: number, current?: number): number {
  const clamp = (p: number) => Math.max(1, Math.min(10, p));
  if (current !== undefined) {
    const underAbove = index <= 0 || others[index - 1].priority >= current;
    const overBelow = index >= others.length || others[index].priority < current;
    if (underAbove && overBelow) return current;
  }
  if (others.length === 0) return 5;
  if (index <= 0) return clamp(others[0].priority + 1);
  if (index >= others.length) return clamp(others[others.length - 1].priority - 1);
  const above = others[index - 1].priority;
  const below = others[index].priority;
  // Just above the card below, and never above the card above.
  return clamp(Math.min(above, below + 1));
}

/**
 * The action for dropping `task` from column `from` into column `to` at
 * position `index` of that column's cards (`column`, in display order).
 */
export function planMove(task: Task, from: string, to: string, column: Task[], index: number): Move {
  if (from === to) {
    const others = column.filter((t) => t.id !== task.id);
    const priority = priorityAt(others, index, task.priority);
    return priority === task.priority ? { kind: "none" } : { kind: "priority", priority };
  }
  if (to === "queued") {
    if (task.status === "failed") return { kind: "retry" };
    return { kind: "refused", reason: "Only a failed task can go back to the queue (as a retry)." };
  }
  if (to === "cancelled") {
    if (UNFINISHED.includes(task.status)) return { kind: "cancel" };
    return { kind: "refused", reason: "Only an unfinished task can be cancelled." };
  }
  return {
    kind: "refused",
    reason: "Agents move tasks into Planning, Running, Waiting and Completed. Drop on Queued to retry a failed task, or on Cancelled to cancel.",
  };
}

/** Where among `rects` (the column's other cards, top to bottom) a drop at `y` lands. */
export function dropIndex(rects: { top: number; height: number }[], y: number): number {
  const i = rects.findIndex((r) => y < r.top + r.height / 2);
  return i === -1 ? rects.length : i;
}
