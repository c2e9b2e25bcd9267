"""MLflow datasets of the reports: the runs of an experiment, as ``mlflow.search_runs`` returns them
(read-only), and tags of the active run (write-only)."""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset, DatasetError


class MlflowRunsDataset(AbstractDataset[None, pd.DataFrame]):
    """All runs of one MLflow experiment as a DataFrame (``run_id``, ``status``, ``metrics.*``,
    ``params.*``, ``tags.*``).

    Uses the current tracking URI (inside ``kedro run``, the one kedro-mlflow set from ``mlflow.yml``).

    Args:
        experiment_name: the experiment to read; ``None`` reads the experiment of the active run (the
            ``kedro run`` that loads this dataset), whose own run is left out.
        filter_string: an MLflow search filter, e.g. ``"attributes.status = 'FINISHED'"``.
        max_results: at most this many runs, most recent first.
    """

    def __init__(
        self,
        experiment_name: str | None = None,
        filter_string: str = "",
        max_results: int = 50_000,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._experiment_name = experiment_name
        self._filter_string = filter_string
        self._max_results = max_results
        self.metadata = metadata

    def _experiment_id(self) -> str:
        if self._experiment_name:
            experiment = mlflow.get_experiment_by_name(self._experiment_name)
            if experiment is None:
                raise DatasetError(
                    f"MlflowRunsDataset: no experiment '{self._experiment_name}' at tracking URI "
                    f"{mlflow.get_tracking_uri()}"
                )
            return experiment.experiment_id
        run = mlflow.active_run()
        if run is None:
            raise DatasetError(
                "MlflowRunsDataset: no active MLflow run to take the experiment from; set experiment_name"
            )
        return run.info.experiment_id

    def load(self) -> pd.DataFrame:
        runs = mlflow.search_runs(
            experiment_ids=[self._experiment_id()],
            filter_string=self._filter_string,
            max_results=self._max_results,
            output_format="pandas",
        )
        active = mlflow.active_run()
        if active is not None and not runs.empty:
            runs = runs[runs["run_id"] != active.info.run_id]
        return runs.reset_index(drop=True)

    def save(self, data: pd.DataFrame) -> None:
        raise DatasetError(
            "MlflowRunsDataset is read-only: runs are written by kedro run through kedro-mlflow"
        )

    def _describe(self) -> dict[str, Any]:
        return {"experiment_name": self._experiment_name, "filter_string": self._filter_string}


class MlflowTagsDataset(AbstractDataset[dict, None]):
    """Writes a dict as tags ``<prefix>.<key>`` of the active MLflow run (the one ``kedro run`` logs to).

    Text that identifies a run's inputs (e.g. ``synthetic.features``) belongs in tags, where
    ``mlflow.search_runs`` returns it as ``tags.<prefix>.<key>``. Without an active run (tracking
    disabled) nothing is written.
    """

    def __init__(self, prefix: str | None = None, metadata: dict[str, Any] | None = None) -> None:
        self._prefix = prefix
        self.metadata = metadata

    def save(self, data: dict) -> None:
        if not isinstance(data, dict):
            raise DatasetError(f"MlflowTagsDataset: expected a dict of tags, got {type(data).__name__}")
        if mlflow.active_run() is None:
            return
        mlflow.set_tags(
            {f"{self._prefix}.{key}" if self._prefix else str(key): str(value) for key, value in data.items()}
        )

    def load(self) -> dict:
        raise DatasetError("MlflowTagsDataset is write-only: read the tags back with mlflow.search_runs")

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix}
