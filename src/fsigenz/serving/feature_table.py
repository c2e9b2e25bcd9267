"""Feature vectors as a table, the input of the served model.

A caller sends one row per image, either as ``d`` numeric columns ``feature_0`` … ``feature_{d-1}``
(the MLflow model's input schema) or as one column ``features`` holding a length-``d`` vector per
row (handy from Python). Other columns (an image id, a path) are ignored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fsigenz.data.dataset import DataValidationError

FEATURE_PREFIX = "feature_"
VECTOR_COLUMN = "features"


def feature_columns(feature_dim: int) -> list[str]:
    """``feature_0`` … ``feature_{d-1}``."""
    return [f"{FEATURE_PREFIX}{i}" for i in range(feature_dim)]


def feature_table(features: np.ndarray) -> pd.DataFrame:
    """(N, d) matrix → table with one float64 column per dimension (float64: JSON numbers parse as
    float64, and MLflow refuses to narrow them to a float32 schema)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features: expected an (N, d) matrix, got shape {features.shape}")
    return pd.DataFrame(features, columns=feature_columns(features.shape[1]))


def features_from_table(table: pd.DataFrame, feature_dim: int, source: str = "features table") -> np.ndarray:
    """(N, d) float32 from a table of ``feature_<i>`` columns or of one ``features`` vector column."""
    if not isinstance(table, pd.DataFrame):
        raise DataValidationError(f"{source}: expected a pandas DataFrame, got {type(table).__name__}")
    if len(table) == 0:
        raise DataValidationError(f"{source}: no rows to score")
    named = [c for c in table.columns if str(c).startswith(FEATURE_PREFIX)]
    if VECTOR_COLUMN in table.columns and not named:
        return _from_vector_column(table[VECTOR_COLUMN], feature_dim, source)
    expected = feature_columns(feature_dim)
    missing = [c for c in expected if c not in table.columns]
    extra = sorted(set(named) - set(expected))
    if missing or extra:
        raise DataValidationError(
            f"{source}: expected the model's {feature_dim} feature columns feature_0 … feature_{feature_dim - 1} "
            f"(or one '{VECTOR_COLUMN}' column of length-{feature_dim} vectors); missing {missing[:5]}, "
            f"unexpected {extra[:5]} ({len(named)} feature columns found)"
        )
    values = table[expected]
    non_numeric = [c for c in expected if not pd.api.types.is_numeric_dtype(values[c])]
    if non_numeric:
        raise DataValidationError(f"{source}: feature columns must be numeric; not numeric: {non_numeric[:5]}")
    features = values.to_numpy(dtype=np.float64)
    _check_finite(features, source, lambda row, col: f"row {row}, column '{expected[col]}'")
    return features.astype(np.float32)


def _from_vector_column(column: pd.Series, feature_dim: int, source: str) -> np.ndarray:
    rows = []
    for row, value in enumerate(column):
        try:
            vector = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise DataValidationError(
                f"{source}: column '{VECTOR_COLUMN}', row {row}: not a numeric vector ({error})"
            ) from error
        if vector.shape != (feature_dim,):
            raise DataValidationError(
                f"{source}: column '{VECTOR_COLUMN}', row {row}: expected a vector of the model's "
                f"{feature_dim} features, got shape {vector.shape}"
            )
        rows.append(vector)
    features = np.stack(rows)
    _check_finite(features, source, lambda row, col: f"column '{VECTOR_COLUMN}', row {row}, entry {col}")
    return features.astype(np.float32)


def _check_finite(features: np.ndarray, source: str, where) -> None:
    bad = ~np.isfinite(features)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise DataValidationError(f"{source}: {where(row, col)}: NaN or infinite value ({int(bad.sum())} in all)")
