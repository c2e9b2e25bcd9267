"""Project hooks: wall time of every node in MLflow, and where to find the results afterwards."""

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
                "mlflow ui --backend-store-uri %s", run_id, experiment_id, uri, uri,
            )
        self._reports.clear()
        self._run_info = None
