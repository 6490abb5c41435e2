// Realistic records shaped like the generated bindings, for component tests.
import type { Agent } from "../bindings/Agent";
import type { Approval } from "../bindings/Approval";
import type { Task } from "../bindings/Task";
import type { TaskStatus } from "../bindings/TaskStatus";
import { at, DAY } from "./clock";

const T = at();

export function agent(over: Partial<Agent> = {}): Agent {
  return {
    id: "agent-1",
    name: "Ada",
    role: "analyst",
    description: "",
    system_prompt: "You analyse data.",
    personality: {},
    capabilities: ["sql_query", "data_analysis"],
    allowed_tools: ["sql_query"],
    provider: null,
    model: null,
    temperature: 0.7,
    max_steps: 8,
    max_delegation_depth: 2,
    autonomy: "copilot",
    tool_autonomy: {},
    approve_final_output: false,
    template: "analyst",
    enabled: true,
    status: "idle",
    last_heartbeat: null,
    max_concurrent_tasks: 1,
    skills: [],
    created_at: T,
    updated_at: T,
    ...over,
  };
}

export function task(over: Partial<Task> = {}): Task {
  return {
    id: "task-1",
    title: "Summarise Q3 sales",
    objective: "One page for the board meeting",
    task_type: "analyze",
    priority: 5,
    status: "queued",
    crew_id: null,
    crew_run_id: null,
    workflow_run_id: null,
    workflow_step: null,
    assigned_agent_id: null,
    routed_agent_id: null,
    required_capabilities: ["data_analysis"],
    created_by: "human",
    parent_task_id: null,
    delegation_depth: 0,
    depends_on: [],
    input: null,
    output: null,
    confidence: null,
    error: null,
    requires_approval: false,
    attempts: 0,
    max_attempts: 3,
    next_attempt_at: null,
    failed_agents: [],
    tokens_in: 0,
    tokens_out: 0,
    cost: 0,
    max_cost: null,
    max_tokens: null,
    started_at: null,
    completed_at: null,
    deadline: null,
    created_at: T,
    updated_at: T,
    ...over,
  };
}

export const ALL_STATUSES: TaskStatus[] = [
  "queued",
  "planning",
  "running",
  "waiting_input",
  "awaiting_approval",
  "delegated",
  "reviewing",
  "completed",
  "failed",
  "cancelled",
];

export function approval(over: Partial<Approval> = {}): Approval {
  return {
    id: "appr-1",
    task_id: "task-1",
    run_id: "run-1",
    step_id: "step-1",
    tool_call_id: "call-1",
    agent_id: "agent-1",
    crew_run_id: null,
    kind: "tool_call",
    title: "Ada wants to run code_run",
    proposed_action: { tool: "code_run", arguments: { language: "python", code: "print(sum(range(1, 101)))" } },
    edited_action: null,
    status: "pending",
    decided_by: null,
    decided_at: null,
    comment: null,
    expires_at: at(DAY),
    created_at: T,
    updated_at: T,
    ...over,
  };
}
