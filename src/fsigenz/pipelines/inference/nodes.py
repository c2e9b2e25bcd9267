"""Nodes of the inference pipeline (the served model's answer) and of what training logs for it: the image
backbone and the served model itself."""

from __future__ import annotations

import logging

import pandas as pd

from fsigenz.model import ZeroShotClassifier
from fsigenz.serving import (
    ImageBackbone,
    add_classes,
    add_examples,
    features_for_scoring,
    table_from_csv_text,
)

logger = logging.getLogger(__name__)

NEW_CLASSES_PARAMETER = "params 'inference.new_classes'"
EXAMPLES_PARAMETER = "params 'inference.examples'"
IMAGE_BACKBONE_OPTIONS = ("include", "batch_size")


def package_image_backbone(source: dict, options: dict) -> ImageBackbone:
    """The backbone that made the features ``source`` reads, to log with the model (or why there is none);
    ``options`` is the ``image_backbone`` parameter block (``include``, ``batch_size``)."""
    unknown = sorted(set(options) - set(IMAGE_BACKBONE_OPTIONS))
    if unknown:
        raise ValueError(
            f"parameters 'image_backbone': unknown key(s) {unknown}; "
            f"expected some of {list(IMAGE_BACKBONE_OPTIONS)}"
        )
    backbone = ImageBackbone.for_source(source, **options)
    if not backbone.available:
        logger.info(
            "The logged model takes feature rows only: no image backbone, because %s", backbone.reason_absent
        )
    return backbone


def predict_classes(
    trained_model: ZeroShotClassifier,
    features_to_score: pd.DataFrame,
    image_backbone: ImageBackbone,
    top_k: int,
    calibrated: bool,
    new_classes: str,
    examples: str,
) -> pd.DataFrame:
    """Predicted class, score and top-k classes per row, over the trained classes plus ``new_classes``
    (CSV text ``class,<attributes>``; empty: none) and with ``examples`` folded in (CSV text ``class`` +
    feature columns or ``image_path``; empty: none). Rows are feature vectors, or image files that
    ``image_backbone`` embeds first. ``calibrated`` subtracts the γ chosen on validation from the
    seen-class scores, as the evaluation's ``gzsl_*_cs`` metrics do. Logs nothing at INFO: it runs on
    every request of a served model."""
    model = trained_model
    classes = table_from_csv_text(new_classes, NEW_CLASSES_PARAMETER)
    if classes is not None:
        model = add_classes(model, classes, NEW_CLASSES_PARAMETER)
    example_table = table_from_csv_text(examples, EXAMPLES_PARAMETER)
    if example_table is not None:
        model = add_examples(model, example_table, image_backbone, EXAMPLES_PARAMETER)
    features = features_for_scoring(features_to_score, model.feature_dim, image_backbone, "features_to_score")
    return model.predict(features, top_k=top_k, calibrated=calibrated)


def build_served_model(trained_model: ZeroShotClassifier, image_backbone: ImageBackbone, inference: dict):
    """The MLflow model that serves ``trained_model`` (with ``image_backbone``), the ``inference``
    parameters as its request parameters' defaults."""
    from fsigenz.pipelines.inference.served_model import ServedClassifier

    return ServedClassifier(trained_model, image_backbone, inference)
