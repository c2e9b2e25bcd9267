"""Write-only dataset: the served model, logged to the active MLflow run as an MLflow pyfunc model."""

from __future__ import annotations

import logging
import pickle
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

import fsigenz
from fsigenz.pipelines.inference.served_model import ARTIFACTS, ServedClassifier

logger = logging.getLogger(__name__)

# What the served model imports besides fsigenz (which travels with it as code) when it loads and
# predicts, pinned to the installed versions so that MLflow need not infer them (a subprocess that
# loads the model); timm, torchvision and pillow embed image_path rows. Checked against what a
# prediction really imports by tests/serving/test_mlflow_model.py.
SERVING_DISTRIBUTIONS = (
    "mlflow",
    "cloudpickle",
    "kedro",
    "torch",
    "numpy",
    "pandas",
    "timm",
    "torchvision",
    "pillow",
)


class MlflowServedModelDataset(AbstractDataset[ServedClassifier, None]):
    """Logs a :class:`ServedClassifier` to the active MLflow run as the pyfunc model ``name``: its
    ``trained_model`` and ``image_backbone`` as artifacts, the ``fsigenz`` package as code, pinned
    requirements, its signature (request parameters) and input contract (the MLmodel's metadata).

    With no active run (MLflow tracking disabled for the pipeline) nothing is logged, with a warning.
    """

    def __init__(self, name: str = "model", metadata: dict[str, Any] | None = None) -> None:
        self._name = name
        self.metadata = metadata

    def save(self, data: ServedClassifier) -> None:
        if mlflow.active_run() is None:
            logger.warning("No active MLflow run: the served model '%s' is not logged", self._name)
            return
        with tempfile.TemporaryDirectory() as directory:
            artifacts = {}
            for name in ARTIFACTS:
                artifacts[name] = str(Path(directory) / f"{name}.pkl")
                with open(artifacts[name], "wb") as file:
                    pickle.dump(getattr(data, name), file)
            mlflow.pyfunc.log_model(
                name=self._name,
                python_model=data,
                artifacts=artifacts,
                signature=data.signature(),
                code_paths=[str(Path(fsigenz.__file__).parent)],
                pip_requirements=[f"{name}=={metadata.version(name)}" for name in SERVING_DISTRIBUTIONS],
                metadata={"input_contract": data.input_contract()},
            )

    def load(self) -> ServedClassifier:
        raise DatasetError(
            f"MlflowServedModelDataset is write-only: load the logged model with "
            f"mlflow.pyfunc.load_model('runs:/<run_id>/{self._name}')"
        )

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name}
