-- Ensemble schema, version 1: the whole domain of SPEC §2.
-- Migrations are append-only: never edit this file once released; add 0002_….sql.
-- Timestamps are TEXT in UTC, RFC 3339 with milliseconds ('2026-01-02T03:04:05.678Z'),
-- so they sort as text. IDs are UUID v7 text. JSON columns hold structured payloads.

CREATE TABLE agents (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    role                 TEXT NOT NULL DEFAULT '',
    description          TEXT NOT NULL DEFAULT '',
    system_prompt        TEXT NOT NULL DEFAULT '',
    personality          TEXT NOT NULL DEFAULT '{}',
    capabilities         TEXT NOT NULL DEFAULT '[]',
    allowed_tools        TEXT NOT NULL DEFAULT '[]',
    provider             TEXT,
    model                TEXT,
    temperature          REAL NOT NULL DEFAULT 0.7,
    max_steps            INTEGER NOT NULL DEFAULT 8,
    max_delegation_depth INTEGER NOT NULL DEFAULT 2,
    autonomy             TEXT NOT NULL DEFAULT 'copilot',
    tool_autonomy        TEXT NOT NULL DEFAULT '{}',
    approve_final_output INTEGER NOT NULL DEFAULT 0,
    template             TEXT,
    enabled              INTEGER NOT NULL DEFAULT 1,
    status               TEXT NOT NULL DEFAULT 'idle',
    last_heartbeat       TEXT,
    max_concurrent_tasks INTEGER NOT NULL DEFAULT 1,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX agents_name ON agents(name);

CREATE TABLE agent_skills (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    skill_name   TEXT NOT NULL,
    proficiency  REAL NOT NULL DEFAULT 0.5,
    times_used   INTEGER NOT NULL DEFAULT 0,
    success_rate REAL NOT NULL DEFAULT 0.0,
    learned_from TEXT NOT NULL DEFAULT 'training',
    examples     TEXT NOT NULL DEFAULT '[]',
    last_used_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (agent_id, skill_name)
);

CREATE TABLE crews (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    goal             TEXT NOT NULL DEFAULT '',
    process          TEXT NOT NULL DEFAULT 'sequential',
    manager_agent_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
    strategy         TEXT NOT NULL DEFAULT '{}',
    shared_context   TEXT NOT NULL DEFAULT '{}',
    escalation_rules TEXT NOT NULL DEFAULT '{}',
    budget           TEXT NOT NULL DEFAULT '{}',
    max_rounds       INTEGER NOT NULL DEFAULT 5,
    status           TEXT NOT NULL DEFAULT 'idle',
    template         TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE crew_members (
    crew_id    TEXT NOT NULL REFERENCES crews(id) ON DELETE CASCADE,
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    role       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (crew_id, agent_id)
);
CREATE INDEX crew_members_agent ON crew_members(agent_id);

CREATE TABLE relationships (
    id                  TEXT PRIMARY KEY,
    crew_id             TEXT NOT NULL REFERENCES crews(id) ON DELETE CASCADE,
    from_agent_id       TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    to_agent_id         TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    kind                TEXT NOT NULL,
    trust_level         REAL NOT NULL DEFAULT 0.5,
    communication_style TEXT NOT NULL DEFAULT 'async',
    handoff_rules       TEXT NOT NULL DEFAULT '{}',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CHECK (from_agent_id <> to_agent_id),
    UNIQUE (crew_id, from_agent_id, to_agent_id, kind)
);
CREATE INDEX relationships_to ON relationships(crew_id, to_agent_id, kind);

-- One execution of a crew (any process); tasks and messages of the run point here.
CREATE TABLE crew_runs (
    id          TEXT PRIMARY KEY,
    crew_id     TEXT NOT NULL REFERENCES crews(id) ON DELETE CASCADE,
    status      TEXT NOT NULL DEFAULT 'planning',
    input       TEXT NOT NULL DEFAULT '',
    report      TEXT,
    stop_reason TEXT,
    state       TEXT NOT NULL DEFAULT '{}',
    vote_log    TEXT NOT NULL DEFAULT '[]',
    tokens_in   INTEGER NOT NULL DEFAULT 0,
    tokens_out  INTEGER NOT NULL DEFAULT 0,
    cost        REAL NOT NULL DEFAULT 0,
    started_at  TEXT,
    finished_at TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX crew_runs_crew ON crew_runs(crew_id, created_at);

CREATE TABLE workflows (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_template INTEGER NOT NULL DEFAULT 0,
    definition  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE workflow_runs (
    id          TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    status      TEXT NOT NULL DEFAULT 'running',
    input       TEXT NOT NULL DEFAULT '{}',
    error       TEXT,
    started_at  TEXT,
    finished_at TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE tasks (
    id                    TEXT PRIMARY KEY,
    title                 TEXT NOT NULL,
    objective             TEXT NOT NULL DEFAULT '',
    task_type             TEXT NOT NULL DEFAULT 'execute',
    priority              INTEGER NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    status                TEXT NOT NULL DEFAULT 'queued',
    crew_id               TEXT REFERENCES crews(id) ON DELETE SET NULL,
    crew_run_id           TEXT REFERENCES crew_runs(id) ON DELETE SET NULL,
    workflow_run_id       TEXT REFERENCES workflow_runs(id) ON DELETE CASCADE,
    workflow_step         TEXT,
    assigned_agent_id     TEXT REFERENCES agents(id) ON DELETE SET NULL,
    required_capabilities TEXT NOT NULL DEFAULT '[]',
    created_by            TEXT NOT NULL DEFAULT 'human',
    parent_task_id        TEXT REFERENCES tasks(id) ON DELETE CASCADE,
    delegation_depth      INTEGER NOT NULL DEFAULT 0,
    input                 TEXT NOT NULL DEFAULT 'null',
    output                TEXT,
    confidence            REAL,
    error                 TEXT,
    requires_approval     INTEGER NOT NULL DEFAULT 0,
    attempts              INTEGER NOT NULL DEFAULT 0,
    max_attempts          INTEGER NOT NULL DEFAULT 3,
    next_attempt_at       TEXT,
    failed_agents         TEXT NOT NULL DEFAULT '[]',
    tokens_in             INTEGER NOT NULL DEFAULT 0,
    tokens_out            INTEGER NOT NULL DEFAULT 0,
    cost                  REAL NOT NULL DEFAULT 0,
    max_cost              REAL,
    max_tokens            INTEGER,
    started_at            TEXT,
    completed_at          TEXT,
    deadline              TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);
-- The scheduler's queue scan and the board's column queries.
CREATE INDEX tasks_queue ON tasks(status, priority DESC, created_at);
CREATE INDEX tasks_board ON tasks(status, updated_at DESC);
CREATE INDEX tasks_parent ON tasks(parent_task_id);
CREATE INDEX tasks_agent ON tasks(assigned_agent_id, status);
CREATE INDEX tasks_crew_run ON tasks(crew_run_id);
CREATE INDEX tasks_workflow_run ON tasks(workflow_run_id);

CREATE TABLE task_dependencies (
    task_id       TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    depends_on_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (task_id, depends_on_id),
    CHECK (task_id <> depends_on_id)
);
CREATE INDEX task_dependencies_rev ON task_dependencies(depends_on_id);

CREATE TABLE workflow_run_steps (
    run_id     TEXT NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    step_key   TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending',
    task_id    TEXT REFERENCES tasks(id) ON DELETE SET NULL,
    output     TEXT,
    error      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, step_key)
);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    agent_id    TEXT REFERENCES agents(id) ON DELETE SET NULL,
    attempt     INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'running',
    provider    TEXT,
    model       TEXT,
    error       TEXT,
    state       TEXT NOT NULL DEFAULT '{}',
    tokens_in   INTEGER NOT NULL DEFAULT 0,
    tokens_out  INTEGER NOT NULL DEFAULT 0,
    cost        REAL NOT NULL DEFAULT 0,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX runs_task ON runs(task_id, attempt);
CREATE INDEX runs_status ON runs(status);

CREATE TABLE run_steps (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    thought      TEXT NOT NULL DEFAULT '',
    action       TEXT,
    observation  TEXT,
    is_final     INTEGER NOT NULL DEFAULT 0,
    final_answer TEXT,
    tokens_in    INTEGER NOT NULL DEFAULT 0,
    tokens_out   INTEGER NOT NULL DEFAULT 0,
    duration_ms  INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (run_id, idx)
);

CREATE TABLE decisions (
    id         TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step_id    TEXT REFERENCES run_steps(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    reasoning  TEXT NOT NULL DEFAULT '',
    action     TEXT,
    result     TEXT,
    confidence REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX decisions_run ON decisions(run_id);

-- Written BEFORE a tool runs and completed after, so a crash never repeats a side effect silently.
CREATE TABLE tool_calls (
    id              TEXT PRIMARY KEY,
    run_id          TEXT REFERENCES runs(id) ON DELETE CASCADE,
    step_id         TEXT REFERENCES run_steps(id) ON DELETE SET NULL,
    tool            TEXT NOT NULL,
    arguments       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    idempotent      INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'intended',
    result          TEXT,
    error           TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    duration_ms     INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX tool_calls_run ON tool_calls(run_id);
CREATE INDEX tool_calls_state ON tool_calls(state);

CREATE TABLE approvals (
    id              TEXT PRIMARY KEY,
    task_id         TEXT REFERENCES tasks(id) ON DELETE CASCADE,
    run_id          TEXT REFERENCES runs(id) ON DELETE CASCADE,
    step_id         TEXT REFERENCES run_steps(id) ON DELETE SET NULL,
    tool_call_id    TEXT REFERENCES tool_calls(id) ON DELETE SET NULL,
    agent_id        TEXT REFERENCES agents(id) ON DELETE SET NULL,
    crew_run_id     TEXT REFERENCES crew_runs(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL DEFAULT 'tool_call',
    title           TEXT NOT NULL,
    proposed_action TEXT NOT NULL DEFAULT 'null',
    edited_action   TEXT,
    status          TEXT NOT NULL DEFAULT 'pending',
    decided_by      TEXT,
    decided_at      TEXT,
    comment         TEXT,
    expires_at      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX approvals_status ON approvals(status, expires_at);
CREATE INDEX approvals_task ON approvals(task_id);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    crew_id           TEXT REFERENCES crews(id) ON DELETE CASCADE,
    crew_run_id       TEXT REFERENCES crew_runs(id) ON DELETE CASCADE,
    task_id           TEXT REFERENCES tasks(id) ON DELETE SET NULL,
    from_agent_id     TEXT REFERENCES agents(id) ON DELETE SET NULL,
    to_agent_id       TEXT REFERENCES agents(id) ON DELETE SET NULL,
    channel           TEXT NOT NULL,
    kind              TEXT NOT NULL,
    content           TEXT NOT NULL,
    reasoning         TEXT NOT NULL DEFAULT '',
    context           TEXT NOT NULL DEFAULT '{}',
    requires_response INTEGER NOT NULL DEFAULT 0,
    response_deadline TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX messages_channel ON messages(channel, created_at);
CREATE INDEX messages_crew_run ON messages(crew_run_id, created_at);
CREATE INDEX messages_task ON messages(task_id);

CREATE TABLE team_memory (
    id         TEXT PRIMARY KEY,
    crew_id    TEXT REFERENCES crews(id) ON DELETE CASCADE,
    agent_id   TEXT REFERENCES agents(id) ON DELETE SET NULL,
    source     TEXT NOT NULL DEFAULT 'remember',
    content    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX team_memory_crew ON team_memory(crew_id, created_at);

CREATE TABLE chat_sessions (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    agent_id   TEXT REFERENCES agents(id) ON DELETE SET NULL,
    auto_route INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE chat_messages (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    content    TEXT NOT NULL,
    agent_id   TEXT REFERENCES agents(id) ON DELETE SET NULL,
    status     TEXT NOT NULL DEFAULT 'complete',
    metadata   TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX chat_messages_session ON chat_messages(session_id, created_at);

CREATE TABLE provider_configs (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    base_url       TEXT NOT NULL DEFAULT '',
    api_key_ref    TEXT,
    default_model  TEXT,
    max_concurrent INTEGER NOT NULL DEFAULT 2,
    cost_table     TEXT NOT NULL DEFAULT '{}',
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE mcp_servers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    command    TEXT NOT NULL,
    args       TEXT NOT NULL DEFAULT '[]',
    env        TEXT NOT NULL DEFAULT '{}',
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE sql_sources (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    path       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
