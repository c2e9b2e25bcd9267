"""The served model's input table, in one of two forms, → the (N, d) features it scores.

- **feature rows**: exactly the ``d`` columns ``feature_0`` … ``feature_{d-1}``, or exactly one
  ``features`` column of vectors, as :mod:`~fsigenz.serving.feature_table` reads them;
- **image rows**: exactly one column ``image_path`` of image files the serving process can read; they
  are embedded by the model's :class:`~fsigenz.serving.ImageBackbone` (the backbone that made the
  training features), then scored like feature rows.

One form per table: any other column, or columns of both forms, is refused, as is a path that cannot
be read, with the column, the row (counted from 0) and the path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fsigenz.data.dataset import DataValidationError
from fsigenz.serving.feature_table import (
    FEATURE_PREFIX,
    VECTOR_COLUMN,
    expected_columns_text,
    features_from_table,
    listing,
)
from fsigenz.serving.image_backbone import ImageBackbone

IMAGE_PATH_COLUMN = "image_path"


def features_for_scoring(
    table: pd.DataFrame, feature_dim: int, image_backbone: ImageBackbone, source: str = "features to score"
) -> np.ndarray:
    """(N, d) float32 features of the table's rows: given as feature columns, or embedded from
    ``image_path``."""
    if not isinstance(table, pd.DataFrame):
        raise DataValidationError(f"{source}: expected a pandas DataFrame, got {type(table).__name__}")
    columns = [str(c) for c in table.columns]
    if columns == [IMAGE_PATH_COLUMN]:
        return _embedded(table.iloc[:, 0], feature_dim, image_backbone, source)
    if IMAGE_PATH_COLUMN in columns:
        features_given = [c for c in columns if c.startswith(FEATURE_PREFIX) or c == VECTOR_COLUMN]
        others = [c for c in columns if c != IMAGE_PATH_COLUMN]
        raise DataValidationError(
            f"{source}: column '{IMAGE_PATH_COLUMN}' must come alone (one input form per table), "
            f"but the table also has {listing(others)}"
            + (". Send feature rows and image rows as separate tables" if features_given else "")
        )
    if not columns:
        raise DataValidationError(
            f"{source}: no columns; expected {expected_columns_text(feature_dim)}, or '{IMAGE_PATH_COLUMN}'"
        )
    return features_from_table(table, feature_dim, source)


def image_paths_from_table(paths: pd.Series, source: str) -> list[str]:
    """The ``image_path`` column as a list of non-empty strings."""
    if len(paths) == 0:
        raise DataValidationError(f"{source}: no rows to score")
    for row, value in enumerate(paths):
        if not isinstance(value, str) or not value.strip():
            raise DataValidationError(
                f"{source}: column '{IMAGE_PATH_COLUMN}', row {row}: expected the path of an image file the "
                f"server can read, got {value!r}"
            )
    return list(paths)


def _embedded(paths: pd.Series, feature_dim: int, image_backbone: ImageBackbone, source: str) -> np.ndarray:
    from fsigenz.features import ImageFilesError

    files = image_paths_from_table(paths, source)
    where = f"{source}: column '{IMAGE_PATH_COLUMN}'"
    if not image_backbone.available:
        raise DataValidationError(
            f"{where}: this model cannot read images, it has no image backbone: "
            f"{image_backbone.reason_absent}. Send the images' features instead "
            f"(columns feature_0 … feature_{feature_dim - 1}, made with the "
            "backbone the model was trained on)."
        )
    try:
        features = image_backbone.embed(files)
    except ImageFilesError as error:
        shown = "; ".join(f"row {row}: '{path}' ({reason})" for row, path, reason in error.files[:5])
        more = f"; … {len(error.files) - 5} more" if len(error.files) > 5 else ""
        raise DataValidationError(
            f"{where}: expected image files the server can read; "
            f"{len(error.files)} cannot be read: {shown}{more}"
        ) from error
    if features.shape[1] != feature_dim:
        raise DataValidationError(
            f"{where}: the model's image backbone gives {features.shape[1]} features per image, but the "
            f"classifier scores {feature_dim}; the logged model is inconsistent, retrain it"
        )
    return features
