"""Project hooks: wall time of every node in MLflow, where to find the results afterwards,
kedro-mlflow's parameter logging in processes that run single Dagster steps, and the progress of each
node's training loops (terminal and live MLflow metrics)."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import mlflow
from kedro.framework.hooks import hook_impl

from fsigenz.configuration import RunConfiguration
from fsigenz.pipelines.live_metrics import ProgressSettings
from fsigenz.progress import observed_by

logger = logging.getLogger(__name__)


class RunReportHooks:
    """Log each node's wall time as an MLflow metric and print where metrics and the run are."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._reports: list[str] = []
        self._run_info = None

    @hook_impl
    def before_node_run(self, node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node, outputs) -> None:
        seconds = time.perf_counter() - self._started.pop(node.name, time.perf_counter())
        run = mlflow.active_run()
        if run is not None:
            mlflow.log_metric(f"time.{node.name}", seconds)
            self._run_info = (run.info.run_id, run.info.experiment_id, mlflow.get_tracking_uri())
        for name in outputs:
            if name.endswith(".metrics"):
                namespace = name.rsplit(".", 1)[0]
                self._reports.append(str(Path("data/08_reporting") / namespace / "metrics.json"))

    @hook_impl
    def after_pipeline_run(self) -> None:
        for path in self._reports:
            logger.info("Metrics written to %s", path)
        if self._run_info is not None:
            run_id, experiment_id, uri = self._run_info
            logger.info(
                "MLflow run %s in experiment %s (tracking URI %s); browse with: "
                "mlflow ui --backend-store-uri %s",
                run_id,
                experiment_id,
                uri,
                uri,
            )
        self._reports.clear()
        self._run_info = None


class StepProcessMlflowParams:
    """Give kedro-mlflow's hook the parameter-logging settings of mlflow.yml in every process, so that
    Dagster step processes log node parameters as ``kedro run`` does.

    kedro-mlflow's hook reads ``tracking.params`` (``dict_params.flatten / recursive / sep`` and
    ``long_params_strategy``) into its attributes in ``before_pipeline_run``. Dagster's multiprocess, Dask
    and Kubernetes executors run each step in a process of its own, which loads the project (firing
    ``after_context_created``, where kedro-mlflow reads mlflow.yml, then ``after_catalog_created``) and
    calls the node hooks, but never ``before_pipeline_run`` (that is a step of its own). There the hook
    keeps its constructor's values: parameter blocks logged whole (``fsigenz`` instead of
    ``fsigenz.msas.enabled``, …) and no ``long_params_strategy`` for a value over MLflow's limit.

    In ``after_catalog_created`` this copies those settings from the config kedro-mlflow has just read.
    They are the values its ``before_pipeline_run`` sets, which in ``kedro run`` and in-process jobs runs
    afterwards in the same process, so there nothing changes. Without kedro-mlflow installed, or with its
    hooks disabled (it then reads no config), this does nothing.
    """

    @hook_impl
    def after_catalog_created(self) -> None:
        try:
            from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook  # the instance Kedro registers
        except ImportError:
            return
        config = getattr(mlflow_hook, "mlflow_config", None)
        if config is None:
            return
        params = config.tracking.params
        mlflow_hook.flatten = params.dict_params.flatten
        mlflow_hook.recursive = params.dict_params.recursive
        mlflow_hook.sep = params.dict_params.sep
        mlflow_hook.long_params_strategy = params.long_params_strategy


class RequestedStopHooks:
    """Stop the run at the next node boundary when a stop signal's exception was lost
    (:func:`fsigenz.cli.raise_requested_stop`); a no-op unless the project's ``kedro run`` got a signal."""

    @hook_impl
    def before_node_run(self) -> None:
        from fsigenz.cli import raise_requested_stop

        raise_requested_stop()

    @hook_impl
    def after_node_run(self) -> None:
        from fsigenz.cli import raise_requested_stop

        raise_requested_stop()


class TrainingProgressHooks:
    """Around every node, an observer of the training loops it runs (:mod:`fsigenz.progress`): a bar
    on a terminal or log lines (CI, Dagster), and each stage's loss and validation curve logged live to
    the active MLflow run (:class:`~fsigenz.pipelines.live_metrics.MlflowLiveMetrics`), under the node's
    name (``cub.select_on_validation.scc.validation.gzsl_h``). Parameters ``progress`` and the
    environment variable ``FSIGENZ_PROGRESS`` switch them (README, "Watching a run")."""

    def __init__(self) -> None:
        # None until read: a process that never creates the context (a parallel runner's worker) takes
        # the defaults and FSIGENZ_PROGRESS when its first node starts
        self._settings: ProgressSettings | None = None
        self._observing: dict[str, contextlib.ExitStack] = {}

    @hook_impl
    def after_context_created(self, context) -> None:
        self._settings = ProgressSettings.from_parameters(context.params.get("progress"))

    @hook_impl
    def before_node_run(self, node, inputs) -> None:
        run = mlflow.active_run()
        # the node's selection metric names its validation curve (gzsl_h unless configured otherwise)
        configurations = [value for value in inputs.values() if isinstance(value, RunConfiguration)]
        validation_name = configurations[0].selection.metric if configurations else "validation"
        if self._settings is None:
            self._settings = ProgressSettings.from_parameters(None)
        observer = self._settings.observer(node.name, run and run.info.run_id, validation_name)
        if observer is not None:
            stack = contextlib.ExitStack()
            stack.enter_context(observed_by(observer))
            self._observing[node.name] = stack

    def _stop_observing(self, node) -> None:
        stack = self._observing.pop(node.name, None)
        if stack is not None:
            stack.close()

    @hook_impl
    def after_node_run(self, node) -> None:
        self._stop_observing(node)

    @hook_impl
    def on_node_error(self, node) -> None:
        self._stop_observing(node)
