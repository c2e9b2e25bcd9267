"""Nodes of the inference pipeline (served as an MLflow pyfunc model) and of its input example."""

from __future__ import annotations

import logging

import pandas as pd

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.model import ZeroShotClassifier
from fsigenz.serving import add_classes, class_table_from_csv_text, feature_table, features_from_table

logger = logging.getLogger(__name__)

EXAMPLE_ROWS = 5  # test rows in the input example: MLflow infers the model's input schema from it
NEW_CLASSES_PARAMETER = "params 'inference.new_classes'"


def write_input_example(dataset: ZeroShotDataset) -> pd.DataFrame:
    """A few test feature vectors in the served model's input layout (``feature_0`` … ``feature_{d-1}``)."""
    return feature_table(dataset.features[dataset.splits["test_unseen"][:EXAMPLE_ROWS]])


def predict_classes(
    trained_model: ZeroShotClassifier,
    features_to_score: pd.DataFrame,
    top_k: int,
    calibrated: bool,
    new_classes: str,
) -> pd.DataFrame:
    """Predicted class, score and top-k classes per row, over the trained classes plus ``new_classes``
    (CSV text ``class,<attributes>``; empty: none). ``calibrated`` subtracts the γ chosen on
    validation from the seen-class scores, as the evaluation's ``gzsl_*_cs`` metrics do."""
    table = class_table_from_csv_text(new_classes, NEW_CLASSES_PARAMETER)
    model = trained_model
    if not table.empty:
        model = add_classes(trained_model, table, NEW_CLASSES_PARAMETER)
        logger.info("Scoring %d added class(es) besides the trained ones", len(table))
    features = features_from_table(features_to_score, model.feature_dim, "features_to_score")
    return model.predict(features, top_k=top_k, calibrated=calibrated)
