"""Project hooks: wall time of every node in MLflow, where to find the results afterwards, and
kedro-mlflow's parameter logging in processes that run single Dagster steps."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import mlflow
from kedro.framework.hooks import hook_impl

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
