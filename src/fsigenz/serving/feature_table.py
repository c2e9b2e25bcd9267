"""Feature vectors as a table, the input of the served model.

A caller sends one row per image, either as exactly the ``d`` numeric columns ``feature_0`` …
``feature_{d-1}`` (any order) or as exactly one column ``features`` holding a length-``d`` vector per
row (handy from Python and in JSON). Anything else — a missing or an extra column, a value that is not
a finite number — is refused, naming the column and the row.

**Rows are counted from 0**: row 0 is the first row of the table (the first entry of a JSON
request's ``data`` list, the first line after a CSV header). Every serving error counts this way.
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
    float64)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features: expected an (N, d) matrix, got shape {features.shape}")
    return pd.DataFrame(features, columns=feature_columns(features.shape[1]))


def listing(names: list, shown: int = 3) -> str:
    """``'a', 'b', 'c', … (12 in all)``: the first few names, quoted."""
    names = list(names)
    text = ", ".join(f"'{n}'" for n in names[:shown])
    return text + (f", … ({len(names)} in all)" if len(names) > shown else "")


def expected_columns_text(feature_dim: int) -> str:
    return (
        f"exactly the model's {feature_dim} feature columns feature_0 … feature_{feature_dim - 1}, "
        f"or one column '{VECTOR_COLUMN}' of length-{feature_dim} vectors"
    )


def features_from_table(table: pd.DataFrame, feature_dim: int, source: str = "features table") -> np.ndarray:
    """(N, d) float32 from a table of exactly the ``feature_<i>`` columns or of one ``features`` column."""
    if not isinstance(table, pd.DataFrame):
        raise DataValidationError(f"{source}: expected a pandas DataFrame, got {type(table).__name__}")
    if len(table) == 0:
        raise DataValidationError(f"{source}: no rows to score")
    columns = [str(c) for c in table.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DataValidationError(f"{source}: column(s) {listing(duplicated)} given more than once")
    if columns == [VECTOR_COLUMN]:
        return _from_vector_column(table.iloc[:, 0], feature_dim, source)
    expected = feature_columns(feature_dim)
    missing = [c for c in expected if c not in set(columns)]
    unexpected = [c for c in columns if c not in set(expected)]
    if missing or unexpected:
        problems = []
        if unexpected:
            problems.append(f"unexpected column(s) {listing(unexpected)}")
        if missing:
            problems.append(f"missing {listing(missing)}")
        found = sum(c.startswith(FEATURE_PREFIX) for c in columns)
        raise DataValidationError(
            f"{source}: expected {expected_columns_text(feature_dim)}; got {len(columns)} column(s), "
            f"{found} named feature_<i>: {'; '.join(problems)}"
        )
    table = table.set_axis(columns, axis=1)[expected]
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in table.dtypes):
        features = table.to_numpy(dtype=np.float64)  # the common case, in one copy
    else:
        features = np.empty((len(table), feature_dim), dtype=np.float64)
        for position, name in enumerate(expected):
            features[:, position] = _numeric_column(table[name], f"{source}: column '{name}'")
    _check_finite(features, source, lambda row, col: f"row {row}, column '{expected[col]}'")
    return features.astype(np.float32)


def _numeric_column(column: pd.Series, where: str) -> np.ndarray:
    """The column as float64; the first row holding something else than a number is named."""
    if pd.api.types.is_bool_dtype(column) or not (
        pd.api.types.is_numeric_dtype(column) or pd.api.types.is_object_dtype(column)
    ):
        raise DataValidationError(f"{where}: expected numbers, got values of type {column.dtype}")
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64)
    for row, value in enumerate(column):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            and value is not None
        ):
            raise DataValidationError(f"{where}, row {row}: expected a number, got {value!r}")
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _from_vector_column(column: pd.Series, feature_dim: int, source: str) -> np.ndarray:
    rows = []
    for row, value in enumerate(column):
        where = f"{source}: column '{VECTOR_COLUMN}', row {row}"
        if isinstance(value, (str, bytes)) or value is None or np.isscalar(value):
            raise DataValidationError(
                f"{where}: expected a vector of the model's {feature_dim} features, got {value!r}"
            )
        try:
            vector = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise DataValidationError(
                f"{where}: expected a vector of {feature_dim} numbers ({error})"
            ) from error
        if vector.shape != (feature_dim,):
            raise DataValidationError(
                f"{where}: expected a vector of the model's {feature_dim} features, got shape {vector.shape}"
            )
        rows.append(vector)
    features = np.stack(rows)
    _check_finite(features, source, lambda row, col: f"column '{VECTOR_COLUMN}', row {row}, entry {col}")
    return features.astype(np.float32)


def _check_finite(features: np.ndarray, source: str, where) -> None:
    bad = ~np.isfinite(features)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise DataValidationError(
            f"{source}: {where(row, col)}: expected a finite number, got {features[row, col]} "
            f"({int(bad.sum())} NaN or infinite value(s) in all; a JSON null reads as NaN)"
        )
