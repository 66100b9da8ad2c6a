"""Workflow runs and steps (tables from migration `_v4`): the SQL behind `core.build.workflow`.

A run row holds the run's status, inputs and final outputs; one step row per (run, step name) holds
that step's status, attempts, inputs digest, outputs (a checkpoint while it runs), progress notes,
error and timings. JSON columns are decoded on the way out. Times are unix seconds.

    store.create_workflow_run("r1", "build_space", session=None, inputs={"idea": "..."})
    store.start_workflow_step("r1", 0, "understand", {"needs": []})
    store.finish_workflow_step("r1", "understand", "done", outputs={"task": "..."})
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from typing import Any

_RUN_JSON = ("inputs", "outputs")
_STEP_JSON = ("inputs", "outputs", "notes")
MAX_NOTES = 50


class WorkflowQueries:
    """Mixed into `core.store.Store`; uses its `execute()`, `rows()` and `transaction()`."""

    # ----- runs

    def create_workflow_run(self, run_id: str, workflow: str, *, session: str | None,
                            inputs: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        with self.transaction() as tx:
            tx.execute("INSERT INTO workflow_runs (id, workflow, session, status, inputs, created_at, updated_at) "
                       "VALUES (?, ?, ?, 'pending', ?, ?, ?)", (run_id, workflow, session, _dumps(inputs), now, now))
        return self.get_workflow_run(run_id)

    def get_workflow_run(self, run_id: str) -> dict[str, Any] | None:
        rows = self.rows("SELECT * FROM workflow_runs WHERE id = ?", [run_id])
        return _decoded(rows[0], _RUN_JSON) if rows else None

    def list_workflow_runs(self, *, workflow: str | None = None, session: str | None = None,
                           limit: int = 50) -> list[dict[str, Any]]:
        where, params = [], []
        if workflow is not None:
            where.append("workflow = ?")
            params.append(workflow)
        if session is not None:
            where.append("session = ?")
            params.append(session)
        sql = "SELECT * FROM workflow_runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self.rows(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", [*params, limit])
        return [_decoded(r, _RUN_JSON) for r in rows]

    def claim_workflow_run(self, run_id: str, from_statuses: Iterable[str]) -> bool:
        """Set the run `running` if its status is one of `from_statuses` (compare-and-set)."""
        allowed = list(from_statuses)
        now = time.time()
        with self.transaction() as tx:
            cur = tx.execute(f"UPDATE workflow_runs SET status = 'running', error = NULL, finished_at = NULL, "
                             f"started_at = coalesce(started_at, ?), updated_at = ? "
                             f"WHERE id = ? AND status IN ({', '.join('?' for _ in allowed)})",
                             [now, now, run_id, *allowed])
            return cur.rowcount == 1

    def update_workflow_run(self, run_id: str, *, status: str | None = None, current_step: str | None = None,
                            outputs: dict[str, Any] | None = None, error: str | None = None,
                            finished: bool = False) -> None:
        values: dict[str, Any] = {"updated_at": time.time()}
        if status is not None:
            values["status"] = status
        if current_step is not None:
            values["current_step"] = current_step
        if outputs is not None:
            values["outputs"] = _dumps(outputs)
        if error is not None:
            values["error"] = error
        if finished:
            values["finished_at"] = values["updated_at"]
        with self.transaction() as tx:
            tx.execute(f"UPDATE workflow_runs SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                       [*values.values(), run_id])

    # ----- steps

    def workflow_steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.rows("SELECT * FROM workflow_steps WHERE run_id = ? ORDER BY position", [run_id])
        return [_decoded(r, _STEP_JSON) for r in rows]

    def start_workflow_step(self, run_id: str, position: int, name: str, inputs: dict[str, Any]) -> None:
        """Mark a step running (a new attempt); an earlier attempt's checkpoint in `outputs` is kept."""
        now = time.time()
        with self.transaction() as tx:
            tx.execute("INSERT INTO workflow_steps (run_id, position, name, status, attempts, inputs, started_at) "
                       "VALUES (?, ?, ?, 'running', 1, ?, ?) ON CONFLICT (run_id, name) DO UPDATE SET "
                       "status = 'running', attempts = workflow_steps.attempts + 1, inputs = excluded.inputs, error = NULL, "
                       "started_at = excluded.started_at, finished_at = NULL, duration_ms = NULL",
                       (run_id, position, name, _dumps(inputs), now))
            tx.execute("UPDATE workflow_runs SET current_step = ?, updated_at = ? WHERE id = ?", (name, now, run_id))

    def checkpoint_workflow_step(self, run_id: str, name: str, outputs: dict[str, Any]) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE workflow_steps SET outputs = ? WHERE run_id = ? AND name = ?",
                       (_dumps(outputs), run_id, name))

    def add_workflow_note(self, run_id: str, name: str, note: str) -> None:
        """Append a progress line to the step (the last `MAX_NOTES` are kept)."""
        with self.transaction() as tx:
            row = tx.execute("SELECT notes FROM workflow_steps WHERE run_id = ? AND name = ?",
                             (run_id, name)).fetchone()
            if row is None:
                return
            notes = (json.loads(row[0]) if row[0] else [])[-(MAX_NOTES - 1):] + [note]
            tx.execute("UPDATE workflow_steps SET notes = ? WHERE run_id = ? AND name = ?",
                       (_dumps(notes), run_id, name))

    def finish_workflow_step(self, run_id: str, name: str, status: str, *, outputs: dict[str, Any] | None = None,
                             error: str | None = None) -> None:
        now = time.time()
        values: dict[str, Any] = {"status": status, "finished_at": now, "error": error}
        if outputs is not None:
            values["outputs"] = _dumps(outputs)
        with self.transaction() as tx:
            tx.execute(f"UPDATE workflow_steps SET {', '.join(f'{k} = ?' for k in values)}, "
                       f"duration_ms = (? - started_at) * 1000 WHERE run_id = ? AND name = ?",
                       [*values.values(), now, run_id, name])
            tx.execute("UPDATE workflow_runs SET updated_at = ? WHERE id = ?", (now, run_id))

    # ----- cost of a run

    def usage_totals(self, task_id: str) -> dict[str, Any]:
        """Requests, tokens and USD of the usage rows tagged with `task_id` (a workflow run's id)."""
        row = self.execute(
            "SELECT count(DISTINCT request_id), coalesce(sum(cost_usd), 0), coalesce(sum(tokens_in), 0), "
            "coalesce(sum(tokens_out), 0), count(*) FROM usage INDEXED BY idx_usage_task_id "
            "WHERE task_id = ? AND task_id IS NOT NULL", (task_id,)).fetchone()
        return {"requests": row[0], "cost_usd": row[1], "tokens_in": row[2], "tokens_out": row[3],
                "attempts": row[4]}


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _decoded(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    for key in columns:
        if row.get(key):
            with contextlib.suppress(ValueError):
                row[key] = json.loads(row[key])
    return row
