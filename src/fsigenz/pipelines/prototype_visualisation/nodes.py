"""Node of the prototype_visualisation pipeline: prototype geometry numbers and the t-SNE figure."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure

from fsigenz.configuration import RunConfiguration
from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.experiments.figures import prototype_tsne_figure
from fsigenz.experiments.prototype_geometry import (
    centred_unseen_features,
    prototype_geometry,
    prototypes_by_class,
    tsne_embedding,
    visualisation_points,
)

logger = logging.getLogger(__name__)


def visualise_prototypes(
    dataset: ZeroShotDataset,
    prototype_table: pd.DataFrame,
    run_configuration: RunConfiguration,
    prototype_visualisation: dict,
) -> tuple[Figure, dict, dict]:
    """t-SNE of real unseen features with their k-means centres and the prototypes; distance numbers.

    Returns the figure, a JSON report (summary + per class) and the summary as MLflow metrics.
    """
    options = prototype_visualisation
    real = centred_unseen_features(dataset, bool(run_configuration.prototype_settings["l2_normalize"]))
    prototypes = prototypes_by_class(prototype_table)
    per_class, summary, centres = prototype_geometry(
        real,
        prototypes,
        options.get("n_clusters", 5),
        options.get("n_random_per_class", 100),
        options.get("seed", 0),
    )
    points, kinds, labels = visualisation_points(
        real,
        prototypes,
        centres,
        options.get("max_classes", 10),
        options.get("max_features_per_class", 100),
        options.get("seed", 0),
    )
    embedding = tsne_embedding(
        points, options.get("perplexity", 30.0), options.get("seed", 0), options.get("tsne_iterations", 1000)
    )
    names = {c: dataset.class_names[c] for c in centres}
    figure = prototype_tsne_figure(
        embedding,
        kinds,
        labels,
        names,
        summary,
        title=f"{dataset.name}: real unseen features, k-means centres and FSIGenZ prototypes (t-SNE)",
    )
    logger.info("Prototype geometry (%s): %s", dataset.name, {k: round(v, 3) for k, v in summary.items()})
    report = {
        "dataset": dataset.name,
        "settings": dict(options),
        "summary": summary,
        "per_class": per_class.assign(
            **{"class": per_class["class_index"].map(dataset.class_names.__getitem__)}
        ).to_dict("records"),
    }
    metrics = {
        f"prototype_geometry.{key}": {"value": float(value), "step": 0} for key, value in summary.items()
    }
    return figure, report, metrics
