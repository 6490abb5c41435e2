-- Version 3: the board shows top-level tasks, so task_counts also keeps, per
-- status, how many tasks have no parent; the board's column totals are then
-- one row read each whether or not subtasks are hidden.

ALTER TABLE task_counts ADD COLUMN top_level INTEGER NOT NULL DEFAULT 0;

-- Recount from the tasks themselves (this also repairs any drift).
DELETE FROM task_counts;
INSERT INTO task_counts (status, n, top_level)
    SELECT status, count(*), coalesce(sum(parent_task_id IS NULL), 0) FROM tasks GROUP BY status;

DROP TRIGGER task_counts_insert;
DROP TRIGGER task_counts_delete;
DROP TRIGGER task_counts_update;

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_counts (status, n, top_level) VALUES (NEW.status, 1, NEW.parent_task_id IS NULL)
        ON CONFLICT (status) DO UPDATE SET n = n + 1, top_level = top_level + excluded.top_level;
END;
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
    UPDATE task_counts SET n = n - 1, top_level = top_level - (OLD.parent_task_id IS NULL)
        WHERE status = OLD.status;
END;
CREATE TRIGGER task_counts_update AFTER UPDATE OF status, parent_task_id ON tasks
    WHEN OLD.status <> NEW.status OR (OLD.parent_task_id IS NULL) <> (NEW.parent_task_id IS NULL)
BEGIN
    UPDATE task_counts SET n = n - 1, top_level = top_level - (OLD.parent_task_id IS NULL)
        WHERE status = OLD.status;
    INSERT INTO task_counts (status, n, top_level) VALUES (NEW.status, 1, NEW.parent_task_id IS NULL)
        ON CONFLICT (status) DO UPDATE SET n = n + 1, top_level = top_level + excluded.top_level;
END;

-- The board's columns: top-level tasks of one status in board order. With
-- `id` last the ORDER BY is satisfied by the index and the first 50 rows are
-- read without sorting every task of the status.
CREATE INDEX tasks_board_top ON tasks(status, priority DESC, created_at, id) WHERE parent_task_id IS NULL;
DROP INDEX tasks_queue;
CREATE INDEX tasks_queue ON tasks(status, priority DESC, created_at, id);
-- Nothing reads tasks in updated_at order by status any more, and every
-- status change rewrote this index's page too.
DROP INDEX tasks_board;
