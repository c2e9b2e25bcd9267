"""Serving a trained :class:`~fsigenz.model.ZeroShotClassifier` (pure library: no Kedro, no MLflow).

- :mod:`~fsigenz.serving.feature_table`: the table a caller sends (one row per image, exactly the
  columns ``feature_0`` … ``feature_{d-1}`` or one ``features`` column of vectors) ↔ the (N, d) matrix.
- :mod:`~fsigenz.serving.model_input`: the served model's input, feature rows or ``image_path`` rows,
  → the features to score.
- :mod:`~fsigenz.serving.image_backbone`: the backbone that made the training features, packaged with
  the model so that it embeds image files as the training features were made (or why it has none).
- :mod:`~fsigenz.serving.new_classes`: classes added at prediction time from a table ``class``,
  then one column per attribute, validated against the model.
- :mod:`~fsigenz.serving.examples`: labelled examples folded into the model (few-shot), from a table
  ``class`` + feature columns or ``image_path``.

Rows are counted from 0 in every message (row 0: the first row of the table, after a CSV header).

The Kedro inference pipeline (``fsigenz.pipelines.inference``) wires these into the MLflow model.
"""

from fsigenz.serving.examples import add_examples, examples_by_class
from fsigenz.serving.feature_table import (
    FEATURE_PREFIX,
    VECTOR_COLUMN,
    feature_columns,
    feature_table,
    features_from_table,
)
from fsigenz.serving.image_backbone import ImageBackbone, NoImageBackboneError, source_features_file
from fsigenz.serving.model_input import IMAGE_PATH_COLUMN, features_for_scoring
from fsigenz.serving.new_classes import (
    CLASS_COLUMN,
    add_classes,
    classifier_of,
    new_class_attributes,
    read_class_table,
    table_from_csv_text,
)

__all__ = [
    "CLASS_COLUMN",
    "FEATURE_PREFIX",
    "IMAGE_PATH_COLUMN",
    "VECTOR_COLUMN",
    "ImageBackbone",
    "NoImageBackboneError",
    "add_classes",
    "add_examples",
    "table_from_csv_text",
    "classifier_of",
    "examples_by_class",
    "feature_columns",
    "feature_table",
    "features_for_scoring",
    "features_from_table",
    "new_class_attributes",
    "read_class_table",
    "source_features_file",
]
