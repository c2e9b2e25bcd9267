"""A truthful MLflow record of every ``kedro run``: how it ended, why, and the command that started it.

kedro-mlflow opens one MLflow run per ``kedro run`` and closes it FINISHED after the pipeline, or
FAILED when a node raises. Left alone, a run stopped by a signal stays RUNNING forever (SIGTERM,
SIGKILL, a timeout) or is closed FINISHED by MLflow's exit handler (Ctrl-C), and its
``kedro_command`` tag is rebuilt from a few options only. This module adds, as tags on the run:

- ``fsigenz.outcome``: ``finished``, ``failed``, ``validation_failure`` (bad input or parameters,
  raised as a ``ValueError`` / missing file: nothing to train on), ``stopped`` (SIGINT / SIGTERM /
  SIGHUP, closed KILLED) or ``killed`` (found RUNNING by a later run while its process is gone, closed
  KILLED);
- ``fsigenz.reason``: the error message or the signal, also shown as the run's description;
- ``fsigenz.failed_node``: the node that raised;
- ``fsigenz.pid``, ``fsigenz.host``, ``fsigenz.process_started``: which process owns a RUNNING run,
  so that the next run can tell one killed with SIGKILL from one still going;
- ``kedro_command``: the command line as typed (when started from the command line).

Query them with ``mlflow.search_runs(filter_string="tags.`fsigenz.outcome` = 'stopped'")``.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
from pathlib import Path

import mlflow
from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)

OUTCOME = "fsigenz.outcome"
REASON = "fsigenz.reason"
FAILED_NODE = "fsigenz.failed_node"
PID, HOST, PROCESS_STARTED = "fsigenz.pid", "fsigenz.host", "fsigenz.process_started"
DESCRIPTION = "mlflow.note.content"  # shown as the run's description in the MLflow UI
MAX_TAG_LENGTH = 5000

# Errors that mean "fix the input or the parameters": the project raises these at the boundary with a
# message naming the file / parameter, the field and what was expected.
INPUT_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, KeyError)

# the command line of this process, set by the project's CLI (fsigenz.cli) when it starts a run
_command_line: str | None = None
# the node whose error ended the last pipeline run in this process (for the CLI's error report)
_failed_node: str | None = None


def record_command_line(argv: list[str]) -> None:
    """Remember the command line as typed (``kedro run --namespaces=awa2 …``) for the ``kedro_command``
    tag."""
    global _command_line
    program = Path(argv[0]).name if argv else "kedro"
    if program == "__main__.py":
        program = "python -m fsigenz"
    _command_line = " ".join([program, *(shlex.quote(arg) for arg in argv[1:])])


def process_started(pid: int) -> str | None:
    """When process ``pid`` started (seconds since the epoch, as text), or None when there is no such
    process."""
    try:
        import psutil

        return f"{psutil.Process(pid).create_time():.2f}"
    except ImportError:  # without psutil: the process exists or not
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return "unknown"
        return "unknown"
    except Exception:  # psutil.NoSuchProcess, AccessDenied
        return None


def _process_alive(pid: int, started: str) -> bool:
    now = process_started(pid)
    if now is None:
        return False
    return started in ("", "unknown") or now in ("unknown", started)


def _short(text: str) -> str:
    return text if len(text) <= MAX_TAG_LENGTH else text[: MAX_TAG_LENGTH - 1] + "…"


def tag_active_runs(tags: dict[str, str]) -> None:
    """Set ``tags`` on every run active in this process (the run and any nested one)."""
    client = mlflow.MlflowClient()
    run = mlflow.active_run()
    seen = set()
    while run is not None and run.info.run_id not in seen:
        seen.add(run.info.run_id)
        for key, value in tags.items():
            client.set_tag(run.info.run_id, key, _short(str(value)))
        parent = run.data.tags.get("mlflow.parentRunId")
        run = client.get_run(parent) if parent else None


def close_stopped_runs(reason: str) -> list[str]:
    """Close every MLflow run active in this process as KILLED, tagged with ``reason`` (e.g. ``SIGTERM``).

    Called when a signal stops ``kedro run``, before MLflow's exit handler would close them FINISHED.
    Returns the closed run ids."""
    closed: list[str] = []
    text = f"stopped by {reason} before the pipeline finished"
    while (run := mlflow.active_run()) is not None:
        if run.info.run_id not in closed:  # the same run can sit on MLflow's stack more than once
            client = mlflow.MlflowClient()
            client.set_tag(run.info.run_id, OUTCOME, "stopped")
            client.set_tag(run.info.run_id, REASON, text)
            client.set_tag(run.info.run_id, DESCRIPTION, text)
            closed.append(run.info.run_id)
        mlflow.end_run(status="KILLED")
    return closed


def close_failed_runs(error: BaseException) -> list[str]:
    """Close as FAILED, tagged with ``error``, the runs still active after an error that Kedro's
    ``on_pipeline_error`` did not see (one raised while logging the model after the pipeline, or before
    it started). Returns the closed run ids."""
    closed: list[str] = []
    outcome = "validation_failure" if isinstance(error, INPUT_ERRORS) else "failed"
    reason = _short(f"{type(error).__name__}: {error}")
    while (run := mlflow.active_run()) is not None:
        if run.info.run_id not in closed:
            client = mlflow.MlflowClient()
            client.set_tag(run.info.run_id, OUTCOME, outcome)
            client.set_tag(run.info.run_id, REASON, reason)
            client.set_tag(run.info.run_id, DESCRIPTION, f"{outcome.replace('_', ' ')}: {reason}")
            closed.append(run.info.run_id)
        mlflow.end_run(status="FAILED")
    return closed


def close_runs_of_dead_processes(experiment_id: str, current_run_id: str | None) -> list[str]:
    """Close as KILLED the RUNNING runs of ``experiment_id`` whose process (on this host) is gone.

    A run whose process was killed with SIGKILL (or died of memory exhaustion) could not close itself;
    the next run finds it here by the ``fsigenz.pid`` / ``fsigenz.host`` / ``fsigenz.process_started``
    tags. Runs of other hosts, and runs without those tags, are left alone: their owner may still run.
    """
    client = mlflow.MlflowClient()
    host = socket.gethostname()
    closed = []
    for run in client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    ):
        tags = run.data.tags
        if run.info.run_id == current_run_id or tags.get(HOST) != host or not tags.get(PID, "").isdigit():
            continue
        if _process_alive(int(tags[PID]), tags.get(PROCESS_STARTED, "")):
            continue
        text = (
            f"process {tags[PID]} on {host} ended without closing this run (killed with SIGKILL, out of "
            f"memory or crashed); found by run {current_run_id}"
        )
        client.set_tag(run.info.run_id, OUTCOME, "killed")
        client.set_tag(run.info.run_id, REASON, text)
        client.set_tag(run.info.run_id, DESCRIPTION, text)
        client.set_terminated(run.info.run_id, status="KILLED")
        closed.append(run.info.run_id)
    if closed:
        logger.warning(
            "Marked %d MLflow run(s) left RUNNING by a killed process as KILLED: %s",
            len(closed),
            ", ".join(closed),
        )
    return closed


class MlflowRunRecordHooks:
    """Tags each MLflow run with its owner process, real command line and outcome; closes runs of killed
    processes at the start of the next run. Runs after kedro-mlflow's hook has opened the run
    (``trylast``) and before it closes it on an error (``tryfirst``)."""

    @hook_impl(trylast=True)
    def before_pipeline_run(self) -> None:
        global _failed_node
        _failed_node = None
        run = mlflow.active_run()
        if run is None:  # tracking disabled for this pipeline
            return
        pid = os.getpid()
        tags = {PID: str(pid), HOST: socket.gethostname(), PROCESS_STARTED: process_started(pid) or ""}
        if _command_line is not None:
            tags["kedro_command"] = _command_line
        tag_active_runs(tags)
        try:
            close_runs_of_dead_processes(run.info.experiment_id, run.info.run_id)
        except Exception as error:  # never let bookkeeping of older runs stop this one
            logger.warning("Could not check for MLflow runs left RUNNING by killed processes: %s", error)

    @hook_impl
    def on_node_error(self, error: Exception, node) -> None:
        global _failed_node
        _failed_node = node.name

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error: Exception) -> None:
        if mlflow.active_run() is None:
            return
        outcome = "validation_failure" if isinstance(error, INPUT_ERRORS) else "failed"
        reason = f"{type(error).__name__}: {error}"
        tags = {OUTCOME: outcome, REASON: reason, DESCRIPTION: f"{outcome.replace('_', ' ')}: {reason}"}
        if _failed_node:
            tags[FAILED_NODE] = _failed_node
        tag_active_runs(tags)

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        if mlflow.active_run() is not None:
            tag_active_runs({OUTCOME: "finished"})


def failed_node() -> str | None:
    """The node whose error ended the last pipeline run in this process, if a node raised."""
    return _failed_node
