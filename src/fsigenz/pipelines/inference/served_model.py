"""The served model: an ``mlflow.pyfunc`` model that answers with the inference node, strictly and quietly.

It holds the training run's ``trained_model`` and ``image_backbone`` (logged as artifacts beside it) and
the ``inference`` parameters of that run (the request parameters' defaults), and calls
:func:`~fsigenz.pipelines.inference.nodes.predict_classes` on every request — the same function the
``inference`` pipeline's node runs, without a Kedro runner around it (which copied the catalog and
wrote some fifty INFO lines per request).

**The input contract is the model's own check, and the signature has no input schema, on purpose.**
MLflow's schema enforcement keeps only the columns a named input schema declares and drops every
other one before the model is called (``mlflow.models.utils._enforce_schema``): with a schema, a
2048-column table sent to a 128-feature model reached the model as its 128 columns and was scored.
Without one MLflow hands the table over as sent, and :func:`~fsigenz.serving.features_for_scoring`
accepts exactly the feature columns (or one ``features`` vector column, or one ``image_path``
column). The signature declares the request parameters; the MLmodel's ``metadata.input_contract``
records the accepted columns.

A request the model cannot score raises :class:`ServingInputError`: HTTP 400 whose top-level
``message`` is the model's sentence naming the column or row.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel
from mlflow.types import ParamSchema, ParamSpec

from fsigenz.data.dataset import DataValidationError
from fsigenz.model import ZeroShotClassifier
from fsigenz.serving import FEATURE_PREFIX, IMAGE_PATH_COLUMN, VECTOR_COLUMN, ImageBackbone

logger = logging.getLogger(__name__)

PARAMETER_PREFIX = "inference."
# the request parameters (keys of the `inference` parameter block) and their MLflow types
REQUEST_PARAMETERS = {"top_k": "long", "calibrated": "boolean", "new_classes": "string", "examples": "string"}
ARTIFACTS = ("trained_model", "image_backbone")


class ServingInputError(MlflowException):
    """A request the model cannot score: HTTP 400 whose top-level ``message`` is the model's sentence.

    The scoring server rewrites the message of an ``MlflowException`` raised while predicting into
    "Failed to predict data '<the whole input table>'. Error: …"; this one keeps its first message, so
    that the reason is what the caller reads first.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        if not hasattr(self, "_message"):
            self._message = value


class ServedClassifier(PythonModel):
    """``predict(table, params)`` → predicted class, score and top-k classes per row (docs/serving.md).

    ``trained_model`` and ``image_backbone`` travel as the model's artifacts (``load_context`` reads
    them), not inside its pickle. After ``mlflow.pyfunc.load_model``, ``model.unwrap_python_model()``
    is this object: its ``trained_model`` is the :class:`~fsigenz.model.ZeroShotClassifier`, which
    ``fsigenz.serving.add_classes`` / ``add_examples`` take directly.
    """

    def __init__(
        self, trained_model: ZeroShotClassifier, image_backbone: ImageBackbone, defaults: dict[str, Any]
    ) -> None:
        unknown = sorted(set(defaults) - set(REQUEST_PARAMETERS))
        missing = sorted(set(REQUEST_PARAMETERS) - set(defaults))
        if unknown or missing:
            raise ValueError(
                f"parameters 'inference': expected the keys {sorted(REQUEST_PARAMETERS)}; "
                f"unknown {unknown}, missing {missing}"
            )
        self.trained_model = trained_model
        self.image_backbone = image_backbone
        self.defaults = dict(defaults)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "trained_model": None, "image_backbone": None}

    def load_context(self, context) -> None:
        for name in ARTIFACTS:
            with open(context.artifacts[name], "rb") as file:
                setattr(self, name, pickle.load(file))

    def predict(self, context, model_input, params: dict[str, Any] | None = None):
        from fsigenz.pipelines.inference.nodes import predict_classes

        settings = {**self.defaults}
        for key, value in (params or {}).items():
            settings[key.removeprefix(PARAMETER_PREFIX)] = value
        try:
            return predict_classes(
                self.trained_model,
                model_input,
                self.image_backbone,
                settings["top_k"],
                settings["calibrated"],
                settings["new_classes"],
                settings["examples"],
            )
        except (DataValidationError, ValueError) as error:
            raise ServingInputError(str(error)) from None

    def signature(self) -> ModelSignature:
        """The request parameters with this run's defaults; no input schema (see the module docstring)."""
        return ModelSignature(
            params=ParamSchema(
                [
                    ParamSpec(f"{PARAMETER_PREFIX}{name}", dtype, self.defaults[name])
                    for name, dtype in REQUEST_PARAMETERS.items()
                ]
            )
        )

    def input_contract(self) -> dict[str, Any]:
        """The accepted input forms, recorded in the MLmodel's metadata."""
        d = self.trained_model.feature_dim
        forms = [
            f"exactly the columns {FEATURE_PREFIX}0 … {FEATURE_PREFIX}{d - 1}, numbers (finite)",
            f"exactly one column '{VECTOR_COLUMN}' of length-{d} vectors of finite numbers",
        ]
        if self.image_backbone.available:
            forms.append(f"exactly one column '{IMAGE_PATH_COLUMN}' of image files the server can read")
        return {"feature_dim": d, "input_forms": forms, "rows_counted_from": 0}
