"""Nodes of the inference pipeline (served as an MLflow pyfunc model) and of what it needs from training:
its input example and the image backbone."""

from __future__ import annotations

import logging

import pandas as pd

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.model import ZeroShotClassifier
from fsigenz.serving import (
    ImageBackbone,
    add_classes,
    class_table_from_csv_text,
    features_for_scoring,
    input_example,
)

logger = logging.getLogger(__name__)

EXAMPLE_ROWS = 5  # test rows in the input example: MLflow infers the model's input schema from it
NEW_CLASSES_PARAMETER = "params 'inference.new_classes'"
IMAGE_BACKBONE_OPTIONS = ("include", "batch_size")


def write_input_example(dataset: ZeroShotDataset) -> pd.DataFrame:
    """A few test feature rows (``feature_0`` … ``feature_{d-1}``) and one ``image_path`` row: the two
    input forms of the served model, from which MLflow infers its input schema."""
    return input_example(dataset.features[dataset.splits["test_unseen"][:EXAMPLE_ROWS]])


def package_image_backbone(source: dict, options: dict) -> ImageBackbone:
    """The backbone that made the features ``source`` reads, to log with the model (or why there is none);
    ``options`` is the ``image_backbone`` parameter block (``include``, ``batch_size``)."""
    unknown = sorted(set(options) - set(IMAGE_BACKBONE_OPTIONS))
    if unknown:
        raise ValueError(f"parameters 'image_backbone': unknown key(s) {unknown}; expected some of {list(IMAGE_BACKBONE_OPTIONS)}")
    backbone = ImageBackbone.for_source(source, **options)
    if not backbone.available:
        logger.info("The logged model takes feature rows only: no image backbone, because %s", backbone.reason_absent)
    return backbone


def predict_classes(
    trained_model: ZeroShotClassifier,
    features_to_score: pd.DataFrame,
    image_backbone: ImageBackbone,
    top_k: int,
    calibrated: bool,
    new_classes: str,
) -> pd.DataFrame:
    """Predicted class, score and top-k classes per row, over the trained classes plus ``new_classes``
    (CSV text ``class,<attributes>``; empty: none). Rows are feature vectors, or image files that
    ``image_backbone`` embeds first. ``calibrated`` subtracts the γ chosen on validation from the
    seen-class scores, as the evaluation's ``gzsl_*_cs`` metrics do."""
    table = class_table_from_csv_text(new_classes, NEW_CLASSES_PARAMETER)
    model = trained_model
    if not table.empty:
        model = add_classes(trained_model, table, NEW_CLASSES_PARAMETER)
        logger.info("Scoring %d added class(es) besides the trained ones", len(table))
    features = features_for_scoring(features_to_score, model.feature_dim, image_backbone, "features_to_score")
    return model.predict(features, top_k=top_k, calibrated=calibrated)
