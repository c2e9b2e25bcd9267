"""Nodes of the prototype_generation pipeline (registered as ``prototypes``): MSAS + ridge prototypes."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fsigenz.configuration import RunConfiguration, prototype_settings_key
from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.methods.fsigenz import fit_prototype_phase
from fsigenz.protocol import final_protocol

logger = logging.getLogger(__name__)


def generate_prototype_table(dataset: ZeroShotDataset, run_configuration: RunConfiguration) -> pd.DataFrame:
    """Prototypes of every unseen class, made with the prototype settings of the run's method
    (``msas``, ``prototypes``, ``l2_normalize``; FSIGenZ's for a method without prototypes), one row
    per (class, λ): columns class, class_index, prototype, lambda, norm, vector (in the centred
    feature space the SCC trains in), and ``settings``, the settings it was made with."""
    settings = run_configuration.prototype_settings
    task = final_protocol(dataset).task
    phase = fit_prototype_phase(task, settings["msas"], settings["prototypes"], settings["l2_normalize"])
    prototypes, lambdas = phase.prototypes, phase.prototype_lambdas
    n_classes, n_per_class, _ = prototypes.shape
    class_index = np.repeat(dataset.unseen_classes, n_per_class)
    vectors = prototypes.reshape(n_classes * n_per_class, -1)
    table = pd.DataFrame(
        {
            "class": np.asarray(dataset.class_names, dtype=object)[class_index],
            "class_index": class_index,
            "prototype": np.tile(np.arange(n_per_class), n_classes),
            "lambda": np.tile(lambdas, n_classes) if lambdas is not None else np.nan,
            "norm": np.linalg.norm(vectors, axis=1),
            "vector": list(vectors.astype(np.float32)),
            "settings": prototype_settings_key(settings),
        }
    )
    logger.info(
        "Generated %d prototypes for %d unseen classes (%d per class, %s settings)",
        len(table),
        n_classes,
        n_per_class,
        run_configuration.prototype_method,
    )
    return table


def prototypes_from_table(
    table: pd.DataFrame,
    class_names: tuple[str, ...],
    unseen_classes: np.ndarray,
    settings: dict | None = None,
) -> np.ndarray:
    """(L, P, d) prototypes in ``unseen_classes`` order from a prototype table; with ``settings``
    (``msas``, ``prototypes``, ``l2_normalize``), a table made with other settings is refused."""
    if settings is not None:
        expected_settings = prototype_settings_key(settings)
        made_with = set(table["settings"]) if "settings" in table else {"<not recorded>"}
        if made_with != {expected_settings}:
            raise ValueError(
                f"prototype_table: made with the prototype settings {sorted(made_with)}, but the method is "
                f"configured with {expected_settings}; rerun the prototypes pipeline "
                "(kedro run --pipelines=prototypes) with this configuration"
            )
    expected = [class_names[c] for c in unseen_classes]
    blocks = []
    for name in expected:
        rows = table[table["class"] == name].sort_values("prototype")
        if rows.empty:
            raise ValueError(
                f"prototype_table: no prototype for unseen class '{name}'; rerun the prototypes pipeline"
            )
        blocks.append(np.stack(rows["vector"].to_numpy()))
    if len({b.shape for b in blocks}) != 1:
        raise ValueError("prototype_table: unseen classes have different numbers of prototypes")
    return np.stack(blocks).astype(np.float32)
