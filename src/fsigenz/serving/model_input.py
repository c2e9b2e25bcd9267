"""The served model's input table, in one of two forms, → the (N, d) features it scores.

- **feature rows**: the ``d`` columns ``feature_0`` … ``feature_{d-1}`` (or one ``features`` column of
  vectors), as :mod:`~fsigenz.serving.feature_table` reads them;
- **image rows**: one column ``image_path`` of image files the serving process can read; they are
  embedded by the model's :class:`~fsigenz.serving.ImageBackbone` (the backbone that made the
  training features), then scored like feature rows.

One form per table: a table with values in both, or in neither, is refused, as is a path that cannot
be read, with the column, the row and the path. A column with no value at all counts as absent (a
JSON request that pads missing fields with nulls).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fsigenz.data.dataset import DataValidationError
from fsigenz.serving.feature_table import FEATURE_PREFIX, VECTOR_COLUMN, feature_table, features_from_table
from fsigenz.serving.image_backbone import ImageBackbone

IMAGE_PATH_COLUMN = "image_path"
EXAMPLE_IMAGE_PATH = "/path/to/image.jpg"


def input_example(features: np.ndarray) -> pd.DataFrame:
    """Feature rows of ``features`` plus one image row: the table MLflow infers the model's input
    schema from. Each form leaves the other's columns empty, so every column is optional in the schema
    and a request may send either form."""
    rows = feature_table(features).assign(**{IMAGE_PATH_COLUMN: None})
    image_row = pd.DataFrame({IMAGE_PATH_COLUMN: [EXAMPLE_IMAGE_PATH]})
    return pd.concat([rows, image_row], ignore_index=True)


def features_for_scoring(
    table: pd.DataFrame, feature_dim: int, image_backbone: ImageBackbone, source: str = "features to score"
) -> np.ndarray:
    """(N, d) float32 features of the table's rows: given as feature columns, or embedded from ``image_path``."""
    if not isinstance(table, pd.DataFrame):
        raise DataValidationError(f"{source}: expected a pandas DataFrame, got {type(table).__name__}")
    given = [c for c in table.columns if str(c).startswith(FEATURE_PREFIX) or c == VECTOR_COLUMN]
    filled = [c for c in given if table[c].notna().any()]
    has_path_column = IMAGE_PATH_COLUMN in table.columns
    if has_path_column and filled and table[IMAGE_PATH_COLUMN].notna().any():
        raise DataValidationError(
            f"{source}: got both feature columns ({_listing(filled)}) and column '{IMAGE_PATH_COLUMN}'; expected one "
            f"input form per table: the model's {feature_dim} feature columns feature_0 … feature_{feature_dim - 1}, "
            f"or '{IMAGE_PATH_COLUMN}' alone. Send feature rows and image rows as separate tables."
        )
    if has_path_column and not filled:
        return _embedded(table[IMAGE_PATH_COLUMN], feature_dim, image_backbone, source)
    if not given:
        raise DataValidationError(
            f"{source}: expected either the model's {feature_dim} feature columns feature_0 … "
            f"feature_{feature_dim - 1} (or one '{VECTOR_COLUMN}' column of vectors), or a column "
            f"'{IMAGE_PATH_COLUMN}' of image files; found neither (columns: {_listing(list(table.columns))})"
        )
    return features_from_table(table.drop(columns=IMAGE_PATH_COLUMN, errors="ignore"), feature_dim, source)


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
            f"{where}: this model cannot read images, it has no image backbone: {image_backbone.reason_absent}. "
            f"Send the images' features instead (columns feature_0 … feature_{feature_dim - 1}, made with the "
            "backbone the model was trained on)."
        )
    try:
        features = image_backbone.embed(files)
    except ImageFilesError as error:
        shown = "; ".join(f"row {row}: '{path}' ({reason})" for row, path, reason in error.files[:5])
        more = f"; … {len(error.files) - 5} more" if len(error.files) > 5 else ""
        raise DataValidationError(
            f"{where}: expected image files the server can read; {len(error.files)} cannot be read: {shown}{more}"
        ) from error
    if features.shape[1] != feature_dim:
        raise DataValidationError(
            f"{where}: the model's image backbone gives {features.shape[1]} features per image, but the "
            f"classifier scores {feature_dim}; the logged model is inconsistent, retrain it"
        )
    return features


def _listing(names: list) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:3])
    return shown + (f", … ({len(names)} in all)" if len(names) > 3 else "")
