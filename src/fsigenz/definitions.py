"""Dagster code location: the Kedro pipelines as Dagster jobs, translated by kedro-dagster.

Jobs and executors are configured in ``conf/<env>/dagster.yml``: one job per dataset namespace present,
each the namespace-filtered ``__default__`` pipeline (conf/base), or one job over every dataset on the
multiprocess executor (conf/parallel) or on a Dask cluster (conf/cluster). Besides them, one job per study
of ``parameters_experiments.yml`` runs its settings as parallel steps (``fsigenz.pipelines.studies.jobs``).
Loaded by ``kedro dagster dev`` (``dg.toml`` points it here) or ``dagster dev -m fsigenz.definitions``;
see docs/dagster.md.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Literal

import dagster as dg
import kedro_dagster.utils
import mlflow
from dagster_mlflow import end_mlflow_on_run_finished
from dagster_mlflow.resources import CONFIG_SCHEMA as MLFLOW_RESOURCE_CONFIG
from dagster_mlflow.resources import MlFlow
from kedro_dagster import KedroProjectTranslator
from kedro_dagster.config import EXECUTOR_MAP
from kedro_dagster.config import DaskExecutorOptions as _DaskExecutorOptions
from kedro_dagster.config import MultiprocessExecutorOptions as _MultiprocessExecutorOptions

DEFAULT_ENV = "local"  # the Kedro environment `kedro run` uses by default (settings.CONFIG_LOADER_ARGS)


class DaskExecutorOptions(_DaskExecutorOptions):
    """The ``dask_executor`` block of dagster.yml, handed to dagster-dask with only the options set.

    kedro-dagster 0.8.1 passes every cluster type, the unset ones as null, and dagster-dask's
    ``cluster`` accepts exactly one, so any Dask configuration fails to validate.
    """

    def model_dump(self, **kwargs):
        return super().model_dump(**{**kwargs, "exclude_none": True})


class MultiprocessExecutorOptions(_MultiprocessExecutorOptions):
    """The ``multiprocess`` block of dagster.yml, with Dagster's ``start_method``, which kedro-dagster 0.8.1
    does not accept.

    ``start_method: {forkserver: {preload_modules: [...]}}`` forks each step from a server process that has
    imported those modules once, where ``spawn`` (Dagster's default) starts a new interpreter that imports
    them again: about 4 of the 7 seconds a step process took here before its node ran.
    """

    start_method: dict[Literal["spawn", "forkserver"], dict] | None = None

    def model_dump(self, **kwargs):
        return super().model_dump(**{**kwargs, "exclude_none": True})


def close_running_mlflow_runs(dagster_run_id: str, status: str = "FAILED") -> list[str]:
    """Mark the MLflow runs of Dagster run ``dagster_run_id`` that are still RUNNING as ``status``; their ids.

    dagster-mlflow's hook closes the run when a step fails; a step whose process died (a Dask worker killed)
    fails no step, so nothing else would, and the run would stay RUNNING for ever.
    """
    client = mlflow.MlflowClient()
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    if not experiments:
        return []
    running = client.search_runs(
        experiments, f"tags.dagster_run_id = '{dagster_run_id}' and attributes.status = 'RUNNING'"
    )
    for run in running:
        client.set_terminated(run.info.run_id, status)
    return [run.info.run_id for run in running]


def _let_go_of_active_mlflow_runs() -> None:
    """Drop this thread's active MLflow runs without ending them.

    MLflow keeps the active run per thread; a Dask worker's thread outlives the step, so the next step in
    it (of another Dagster run, say the relaunch of a failed one) would find the old run active and
    dagster-mlflow would log into it. Ending the run is not an option: other steps still log into it.
    """
    from mlflow.tracking import fluent

    fluent._active_run_stack.get().clear()  # no public API detaches a run without ending it


def _forget_kedro_mlflow_run() -> None:
    """Make kedro-mlflow's hook log into the active MLflow run instead of re-opening the one it remembers.

    kedro-mlflow's hook is one object per process. ``before_pipeline_run`` (a step of its own) stores its
    run id in it, and ``before_node_run`` then calls ``mlflow.start_run(run_id=<that id>)`` before logging
    the node's parameters. On a Dask worker the process outlives the Dagster run, so a step of the next
    Dagster run on that worker would re-open the earlier run: with ``run.nested: true`` (conf/cluster)
    MLflow sets that run RUNNING again and logs the node's parameters and datasets into it, not into the
    run the step belongs to. The step resource has attached the right run already; without a remembered
    id, kedro-mlflow logs into it.
    """
    try:
        from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook
    except ImportError:
        return
    mlflow_hook.run_id = None


ENDED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def _dagster_run_status(context) -> dg.DagsterRunStatus | None:
    run = context.instance.get_run_by_id(context.run_id) if context.instance is not None else None
    return run.status if run is not None else None


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


@dg.resource(config_schema=MLFLOW_RESOURCE_CONFIG)
def step_mlflow_tracking(context):
    """dagster-mlflow's ``mlflow_tracking`` resource, for steps in processes that outlive them (Dask workers).

    - The step attaches to its Dagster run's MLflow run, never to one an earlier step left active in the
      thread (MLflow keeps the active run per thread, and a worker's thread runs step after step), nor to
      one kedro-mlflow's hook remembers from an earlier Dagster run (:func:`_forget_kedro_mlflow_run`).
    - Once the Dagster run has ended, nothing reopens its MLflow run (``mlflow.start_run(run_id=…)`` sets
      it RUNNING again): a step that the cluster still starts on a worker after a lost worker failed the
      run is refused, and the resources that ``dagster job execute`` builds again after the run, to report
      it, get no MLflow run (None; no step runs with them).
    - A step that was running when the run failed closes the MLflow run again when it ends.
    """
    status = _dagster_run_status(context)
    if status in ENDED:
        if _in_dask_worker():
            raise dg.Failure(f"Dagster run {context.run_id} has ended ({status.value}): step not started")
        yield None
        return
    _let_go_of_active_mlflow_runs()
    _forget_kedro_mlflow_run()
    try:
        yield MlFlow(context)
    finally:
        _let_go_of_active_mlflow_runs()
        _forget_kedro_mlflow_run()
        if _dagster_run_status(context) in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            close_running_mlflow_runs(context.run_id)


def register_executor_options() -> None:
    """Have kedro-dagster read ``dask_executor`` and ``multiprocess`` blocks into the classes above, run
    :func:`fsigenz.dask_executor.dask_executor` for Dask (where dagster-dask is installed), and give steps
    ``step_mlflow_tracking`` as their MLflow resource."""
    dask = EXECUTOR_MAP["dask_executor"]._replace(options=DaskExecutorOptions)
    if importlib.util.find_spec("dagster_dask") is not None:  # the `cluster` extra
        dask = dask._replace(module="fsigenz.dask_executor", symbol="dask_executor")
    EXECUTOR_MAP["dask_executor"] = dask
    EXECUTOR_MAP["multiprocess"] = EXECUTOR_MAP["multiprocess"]._replace(options=MultiprocessExecutorOptions)
    kedro_dagster.utils.mlflow_tracking = step_mlflow_tracking


def study_parameters(project_path: Path, env: str) -> dict:
    """The ``studies`` block of the project's parameters in ``env`` (read as Kedro reads them)."""
    from kedro.framework.project import settings

    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project_path / settings.CONF_SOURCE), env=env, **settings.CONFIG_LOADER_ARGS
    )
    return loader["parameters"].get("studies") or {}


class ExpectedTranslationWarnings(logging.Filter):
    """Drops kedro-dagster 0.8.1's two warnings that this project triggers by design, once per dataset
    or node and process (about a thousand lines per ``kedro dagster launch``):

    - "Dataset name `params:…` is not valid under Dagster's naming convention": every parameter input is
      a ``params:<name>`` dataset in Kedro, and the colon is replaced in its asset name (``params__fsigenz``);
    - "Node `<ns>.<node>` is not part of any pipelines": kedro-dagster names a node's asset group after
      the pipeline ``kedro.framework.project.find_pipelines()`` finds it in, but that searches the
      un-namespaced ``create_pipeline()`` of each package, never the registry's namespaced nodes
      (``synthetic.train_final_model``), so every node falls back to the group ``__none__``.

    Both change names only; every other kedro-dagster warning passes.
    """

    PATTERNS = ("Dataset name `params:", "is not part of any pipelines. Assigning '__none__'")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(pattern in message for pattern in self.PATTERNS)


def quiet_expected_translation_warnings() -> None:
    """Install :class:`ExpectedTranslationWarnings` on kedro-dagster's logger (once)."""
    translation_logger = logging.getLogger("kedro_dagster.utils")
    if not any(isinstance(f, ExpectedTranslationWarnings) for f in translation_logger.filters):
        translation_logger.addFilter(ExpectedTranslationWarnings())


def build_definitions(project_path: Path | None = None, env: str | None = None) -> dg.Definitions:
    """Translate the Kedro project at ``project_path`` (default: found from the current directory).

    ``env`` defaults to ``$KEDRO_ENV``, which ``kedro dagster <command> --env`` sets, then to ``local``.
    """
    from kedro.utils import find_kedro_project

    from fsigenz.pipelines.studies.jobs import study_jobs

    register_executor_options()
    quiet_expected_translation_warnings()
    env = env or os.environ.get("KEDRO_ENV", DEFAULT_ENV)
    project_path = Path(project_path or find_kedro_project(Path.cwd()) or Path.cwd()).resolve()
    location = KedroProjectTranslator(env=env, project_path=project_path).to_dagster()
    # kedro-dagster's MLflow resource attaches every step, in whichever process it runs, to one MLflow
    # run per Dagster run, and kedro-mlflow's hooks log into it; this hook closes it after the last step.
    jobs = [job.with_hooks({end_mlflow_on_run_finished}) for job in location.named_jobs.values()]
    # the studies run their settings on the executor of the environment's jobs (Dask under conf/cluster)
    executor = next((job.executor_def for job in jobs), None)
    jobs += study_jobs(project_path, env, study_parameters(project_path, env), executor)
    return dg.Definitions(
        assets=list(location.named_assets.values()),
        # every dataset of the pipelines has its own IO manager (its catalog entry); the default one
        # carries the hook ops' "Nothing" outputs, pickled so that steps in other processes see them
        resources={**location.named_resources, "io_manager": dg.fs_io_manager},
        jobs=jobs,
        schedules=list(location.named_schedules.values()),
        sensors=list(location.named_sensors.values()),
        loggers={"console": dg.colored_console_logger},
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Built when Dagster loads the code location, not on import (tests build their own)."""
    return build_definitions()
