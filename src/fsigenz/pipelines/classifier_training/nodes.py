"""Nodes of the classifier_training pipeline: model selection on validation, then the final fit."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from fsigenz.configuration import PROTOTYPE_KEYS as PROTOTYPE_SETTINGS
from fsigenz.configuration import RunConfiguration
from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.methods.registry import build_method, method_spec
from fsigenz.model import ZeroShotClassifier
from fsigenz.pipelines.prototype_generation.nodes import prototypes_from_table
from fsigenz.protocol import final_protocol, select_model, set_nested, validation_protocol

logger = logging.getLogger(__name__)

# grid keys that change the prototypes: the final fit then regenerates them instead of using the table
PROTOTYPE_KEYS = ("msas.", "prototypes.", "l2_normalize")


def _require_training_steps(method: str, parameters: dict) -> None:
    """An iterative method needs at least one training step: its length is chosen on validation up to it."""
    steps_parameter = method_spec(method).steps_parameter
    if not steps_parameter:
        return
    value = parameters
    for key in steps_parameter.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(
            f"parameters '{method}.{steps_parameter}': expected an integer >= 1 (the most training steps; "
            f"the length is chosen on validation up to it), got {value!r}"
        )


def select_on_validation(dataset: ZeroShotDataset, run_configuration: RunConfiguration) -> dict:
    """Choose the grid setting, the training length and γ on the class-disjoint validation split."""
    config = run_configuration
    _require_training_steps(config.method, config.settings)
    protocol = validation_protocol(dataset, config.selection.seen_holdout_fraction, config.selection.seed)
    result = select_model(
        protocol,
        lambda params: build_method(config.method, params),
        config.settings,
        config.grid,
        config.selection.metric,
    )
    final_parameters = config.settings
    for key, value in result.setting.items():
        final_parameters = set_nested(final_parameters, key, value)
    steps_parameter = method_spec(config.method).steps_parameter
    if steps_parameter and result.best_step is not None:  # 0: the untrained (anchored) model won
        final_parameters = set_nested(final_parameters, steps_parameter, result.best_step)
    logger.info(
        "Selected on validation: %s, step %s, gamma %.4g -> %s",
        result.setting,
        result.best_step,
        result.gamma,
        {k: round(v, 2) for k, v in result.validation_metrics.items()},
    )
    return {"method": config.method, "final_parameters": final_parameters, **result.as_dict()}


def train_final_model(
    dataset: ZeroShotDataset,
    prototype_table: pd.DataFrame,
    model_selection: dict,
    run_configuration: RunConfiguration,
) -> ZeroShotClassifier:
    """Fit the selected method on trainval (all classes) with the selected parameters; a method with
    prototypes trains on the prototype table, which must have been made with its own settings."""
    name = model_selection["method"]
    if name != run_configuration.method:
        raise ValueError(
            f"model_selection: selected method '{name}', but the run configuration's is "
            f"'{run_configuration.method}'; rerun the classifier_training pipeline"
        )
    spec = method_spec(name)
    protocol = final_protocol(dataset)
    final_parameters = model_selection["final_parameters"]
    estimator = build_method(name, final_parameters)
    fit_options = {}
    tuned_prototype_keys = [k for k in model_selection["setting"] if k.startswith(PROTOTYPE_KEYS)]
    if spec.uses_prototypes and not tuned_prototype_keys:
        fit_options["prototypes"] = prototypes_from_table(
            prototype_table,
            dataset.class_names,
            dataset.unseen_classes,
            settings={key: final_parameters[key] for key in PROTOTYPE_SETTINGS},
        )
    elif spec.uses_prototypes:
        logger.warning("Grid tuned %s: the final fit regenerates its prototypes", tuned_prototype_keys)
    started = time.perf_counter()
    estimator.fit(protocol.task, **fit_options)
    seconds = time.perf_counter() - started
    return ZeroShotClassifier(
        method_name=name,
        estimator=estimator,
        class_names=dataset.class_names,
        seen_classes=dataset.seen_classes,
        unseen_classes=dataset.unseen_classes,
        calibration_gamma=float(model_selection["gamma"]),
        metadata={
            "dataset": dataset.name,
            "training_seconds": seconds,
            "selection_seconds": float(model_selection["seconds"]),
            "n_synthetic_per_class": int(getattr(estimator, "n_synthetic_per_class", 0)),
            "feature_dim": dataset.feature_dim,
            "attribute_dim": dataset.attribute_dim,
            "class_attributes": np.asarray(dataset.class_attributes),
        },
    )
