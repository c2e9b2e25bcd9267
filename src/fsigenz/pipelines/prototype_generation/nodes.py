"""Nodes of the prototype_generation pipeline (registered as ``prototypes``): MSAS + ridge prototypes."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.methods.fsigenz import FSIGenZClassifier
from fsigenz.pipelines.configuration import resolve_configuration
from fsigenz.protocol import final_protocol

logger = logging.getLogger(__name__)


def generate_prototype_table(dataset: ZeroShotDataset, model: dict, overrides: dict, fsigenz: dict) -> pd.DataFrame:
    """Prototypes of every unseen class, one row per (class, λ): columns class, class_index,
    prototype, lambda, norm, vector (in the centred feature space the SCC trains in)."""
    parameters = resolve_configuration({**model, "method": "fsigenz"}, overrides, {"fsigenz": fsigenz}).method_parameters
    task = final_protocol(dataset).task
    prototypes, lambdas = FSIGenZClassifier(**parameters).generate_prototypes(task)
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
        }
    )
    logger.info("Generated %d prototypes for %d unseen classes (%d per class)", len(table), n_classes, n_per_class)
    return table


def prototypes_from_table(table: pd.DataFrame, class_names: tuple[str, ...], unseen_classes: np.ndarray) -> np.ndarray:
    """(L, P, d) prototypes in ``unseen_classes`` order from a prototype table."""
    expected = [class_names[c] for c in unseen_classes]
    blocks = []
    for name in expected:
        rows = table[table["class"] == name].sort_values("prototype")
        if rows.empty:
            raise ValueError(f"prototype_table: no prototype for unseen class '{name}'; rerun the prototypes pipeline")
        blocks.append(np.stack(rows["vector"].to_numpy()))
    if len({b.shape for b in blocks}) != 1:
        raise ValueError("prototype_table: unseen classes have different numbers of prototypes")
    return np.stack(blocks).astype(np.float32)
