-- Version 4: what the crew engine records about a run beyond the domain
-- columns of 0001: the process it ran with, each member's outputs, the
-- model calls the engine made itself (plans, verdicts, votes) apart from
-- the tasks it queued, a stop request any process can set, and which
-- process coordinates the run (so a restart marks only orphaned runs).

ALTER TABLE crew_runs ADD COLUMN process TEXT NOT NULL DEFAULT 'sequential';
ALTER TABLE crew_runs ADD COLUMN outputs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE crew_runs ADD COLUMN error TEXT;
ALTER TABLE crew_runs ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE crew_runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE crew_runs ADD COLUMN turn_tokens_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE crew_runs ADD COLUMN turn_tokens_out INTEGER NOT NULL DEFAULT 0;
ALTER TABLE crew_runs ADD COLUMN turn_cost REAL NOT NULL DEFAULT 0;

-- Runs still in progress (the app's crew view, recovery at start).
CREATE INDEX crew_runs_open ON crew_runs(status) WHERE status IN ('planning', 'running', 'waiting');
