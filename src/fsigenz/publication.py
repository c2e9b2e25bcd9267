"""Outputs of one ``kedro run`` published together: written aside, moved into place when the run ends.

Every file a run writes (``dataset.pkl``, ``prototypes.parquet``, ``trained_model.pkl``,
``metrics.json``, …) goes to ``data/.staging/<session id>/<its usual path>`` while the run lasts, and
the nodes of the run read it from there. When the pipeline has finished, the staged files are moved
over the published ones (``os.replace``, one rename per file), after writing the list of moves to
``publish.json`` in the staging folder; a run stopped during those renames is completed by the next
run, which also removes what stopped or failed runs left staged. So a run that fails or is stopped
changes none of the published files, and the files on disk always come from one run.

Inputs the run does not produce (``--pipelines=evaluation`` reading ``trained_model.pkl``) are read
where they are published. Versioned datasets and datasets that are not single files or folders under
the project (MLflow metrics, memory) are left as they are.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path, PurePosixPath

from kedro.framework.hooks import hook_impl

from fsigenz.run_records import process_started

logger = logging.getLogger(__name__)

STAGING = Path("data/.staging")
JOURNAL = "publish.json"
OWNER = "owner.json"


def _move_into_place(staged: Path, final: Path) -> None:
    if staged.is_dir():
        for path in sorted(p for p in staged.rglob("*") if p.is_file()):
            _move_into_place(path, final / path.relative_to(staged))
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)


def _owner_alive(folder: Path) -> bool:
    try:
        owner = json.loads((folder / OWNER).read_text())
    except (OSError, ValueError):
        return False
    started = process_started(int(owner["pid"]))
    return started is not None and (
        started == "unknown" or owner.get("started") in (None, "", "unknown", started)
    )


def finish_interrupted_publications(project: Path) -> None:
    """Complete the publications that a stopped run began and remove what stopped or failed runs staged
    (folders of ``data/.staging`` whose process is gone)."""
    root = project / STAGING
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if _owner_alive(folder):
            continue  # a run going on at the same time
        journal = folder / JOURNAL
        if journal.is_file():
            moves = json.loads(journal.read_text())
            for staged, final in moves:
                if Path(staged).exists():
                    _move_into_place(Path(staged), Path(final))
            logger.warning(
                "Completed the publication of the outputs of run %s, stopped while publishing them",
                folder.name,
            )
        else:
            logger.info(
                "Removed the unpublished outputs of run %s (stopped or failed before its end)", folder.name
            )
        shutil.rmtree(folder, ignore_errors=True)


class _ResumeHintFilter(logging.Filter):
    """Kedro's hint after a failure ("resume … with --from-nodes") assumes the finished nodes' outputs are
    on disk; here they were not published, so say to rerun the command instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "resume the pipeline run" in str(record.msg):
            record.msg, record.args = (
                "The outputs of this run were not published (data/ holds the last complete run's): fix the "
                "cause and rerun the same command; --from-nodes would mix the two runs' files",
                (),
            )
        return True


RUNNER_LOGGERS = (
    "kedro.runner.runner",
    "kedro.runner.sequential_runner",
    "kedro.runner.parallel_runner",
    "kedro.runner.thread_runner",
)
for _name in RUNNER_LOGGERS:
    logging.getLogger(_name).addFilter(_ResumeHintFilter())


class StagedOutputs:
    """Kedro hook: stage every file output of the run (``before_pipeline_run``) and publish them all at
    the end (``after_pipeline_run``, after kedro-mlflow has logged the model from them); discard them when
    the pipeline fails."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._staged: list[
            tuple[object, PurePosixPath, Path, Path]
        ] = []  # dataset, original path, staged, final

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:
        project = Path(run_params.get("project_path") or Path.cwd()).resolve()
        finish_interrupted_publications(project)
        self._folder = project / STAGING / str(run_params.get("run_id") or os.getpid())
        self._staged = []
        for name in sorted(pipeline.all_outputs()):
            dataset = catalog.get(name)
            original = getattr(dataset, "_filepath", None)
            if (
                original is None
                or getattr(dataset, "_version", None) is not None
                or getattr(dataset, "_protocol", "file") not in ("file", "local")
            ):
                continue
            final = Path(str(original))
            final = final if final.is_absolute() else project / final
            try:
                relative = final.resolve().relative_to(project)
            except ValueError:  # outside the project: not ours to stage
                continue
            staged = self._folder / relative
            staged.parent.mkdir(parents=True, exist_ok=True)
            dataset._filepath = PurePosixPath(staged.as_posix())
            self._staged.append((dataset, original, staged, final))
        self._folder.mkdir(parents=True, exist_ok=True)
        (self._folder / OWNER).write_text(
            json.dumps({"pid": os.getpid(), "started": process_started(os.getpid())})
        )

    @hook_impl(trylast=True)
    def after_pipeline_run(self) -> None:
        if self._folder is None:
            return
        moves = [(str(staged), str(final)) for _, _, staged, final in self._staged if staged.exists()]
        (self._folder / JOURNAL).write_text(json.dumps(moves))
        for staged, final in moves:
            _move_into_place(Path(staged), Path(final))
        self._restore()
        self._remove_folder()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self.discard()

    def _remove_folder(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)
        try:
            self._folder.parent.rmdir()  # data/.staging, when no other run uses it
        except OSError:
            pass
        self._folder = None

    def discard(self) -> None:
        """Forget what this run staged (it failed or was stopped): the published files stay as they were."""
        if self._folder is None:
            return
        if (self._folder / JOURNAL).is_file():  # stopped while publishing: finish, so that all agree
            for staged, final in json.loads((self._folder / JOURNAL).read_text()):
                if Path(staged).exists():
                    _move_into_place(Path(staged), Path(final))
            self._restore()
            self._remove_folder()
            return
        self._restore()
        self._remove_folder()
        logger.info(
            "Outputs of this run not published: the files under data/ are those of the last complete run"
        )

    def _restore(self) -> None:
        for dataset, original, _, _ in self._staged:
            dataset._filepath = original
        self._staged = []


def discard_staged_outputs() -> None:
    """Discard what the current run staged (called by the CLI when a signal stops the run)."""
    from fsigenz.settings import HOOKS

    for hook in HOOKS:
        if isinstance(hook, StagedOutputs):
            hook.discard()
