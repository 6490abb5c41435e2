-- Version 2: what the orchestrator needs beyond the domain tables.

-- Per-status task counts kept by triggers, so the board's column totals cost
-- one row read each instead of an index scan over every task.
CREATE TABLE task_counts (
    status     TEXT PRIMARY KEY,
    n          INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO task_counts (status, n) SELECT status, count(*) FROM tasks GROUP BY status;

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
    UPDATE task_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER task_counts_update AFTER UPDATE OF status ON tasks WHEN OLD.status <> NEW.status BEGIN
    UPDATE task_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO task_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;

-- The scheduler's candidates: queued tasks by priority, and the oldest queued
-- tasks (which aging may lift above newer, higher-priority ones).
CREATE INDEX tasks_queued_priority ON tasks(priority DESC, created_at) WHERE status = 'queued';
CREATE INDEX tasks_queued_age ON tasks(created_at) WHERE status = 'queued';
-- Parked parents waiting for their subtasks, and tasks waiting for a decision.
CREATE INDEX tasks_parked ON tasks(status) WHERE status IN ('delegated', 'awaiting_approval', 'waiting_input');

-- A run resumes from its last completed step; find a task's latest run fast.
CREATE INDEX runs_task_latest ON runs(task_id, created_at DESC);

-- Tool calls of a run in order, and the intended/running ones at recovery.
CREATE INDEX tool_calls_open ON tool_calls(state) WHERE state IN ('intended', 'running');

-- Approvals of a run, to resume it when one is decided.
CREATE INDEX approvals_run ON approvals(run_id, status);

-- Tools that write to the store record the journal key of their call, so a
-- call repeated after a crash finds its earlier write instead of adding one.
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX messages_idempotency ON messages(idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE team_memory ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX team_memory_idempotency ON team_memory(idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;

-- The agent the scheduler routed a task to (assigned_agent_id stays the
-- human's explicit choice, so a retry can go elsewhere).
ALTER TABLE tasks ADD COLUMN routed_agent_id TEXT REFERENCES agents(id) ON DELETE SET NULL;
CREATE UNIQUE INDEX tasks_idempotency ON tasks(idempotency_key) WHERE idempotency_key IS NOT NULL;
