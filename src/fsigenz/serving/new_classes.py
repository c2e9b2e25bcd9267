"""Classes added at prediction time, from their attribute vectors.

The table has a column ``class`` (the name) followed by one numeric column per attribute, in the
order of the training attributes — the layout of the generic format's ``class_attributes.csv``.
Values must be in the form the training classes had (xlsa17 ``att`` and the synthetic data: each
class vector L2-normalised). Validation happens here, once, with messages that name the source, the
row and the column: a wrong number of attribute columns, a NaN, a duplicated name, a name that is
already a trained class.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from fsigenz.data.dataset import DataValidationError
from fsigenz.model import ZeroShotClassifier

CLASS_COLUMN = "class"


def read_class_table(path: str | Path) -> pd.DataFrame:
    """The CSV file of new classes (validated later, against a model, by :func:`new_class_attributes`)."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: file not found; expected a CSV 'class,<one column per attribute>' there")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataValidationError(f"{path}: not a readable CSV ({type(error).__name__}: {error})") from error


def class_table_from_csv_text(text: str | None, source: str = "new classes") -> pd.DataFrame:
    """The table of new classes from CSV text (e.g. a request parameter); empty text or None: no class."""
    if text is None or not text.strip():
        return pd.DataFrame(columns=[CLASS_COLUMN])
    try:
        return pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataValidationError(f"{source}: not readable as CSV ({type(error).__name__}: {error})") from error


def new_class_attributes(
    table: pd.DataFrame,
    attribute_dim: int,
    trained_classes: tuple[str, ...] = (),
    source: str = "new classes",
) -> tuple[list[str], np.ndarray]:
    """Validated (names, attributes (m, L)) from a table ``class,<m attribute columns>``."""
    if CLASS_COLUMN not in table.columns:
        raise DataValidationError(f"{source}: missing column '{CLASS_COLUMN}'; found {list(table.columns)[:5]}")
    values = table.drop(columns=CLASS_COLUMN)
    if values.shape[1] != attribute_dim:
        raise DataValidationError(
            f"{source}: expected {attribute_dim} attribute columns after '{CLASS_COLUMN}' (the model's attribute "
            f"dimension), got {values.shape[1]}: {list(values.columns)[:5]}{' …' if values.shape[1] > 5 else ''}"
        )
    if len(table) == 0:
        raise DataValidationError(f"{source}: no class rows")
    non_numeric = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if non_numeric:
        raise DataValidationError(f"{source}: attribute columns must be numeric; not numeric: {non_numeric[:5]}")
    names = table[CLASS_COLUMN]
    if names.isna().any() or (names.astype(str).str.strip() == "").any():
        row = int(np.flatnonzero(names.isna() | (names.astype(str).str.strip() == ""))[0])
        raise DataValidationError(f"{source}: field '{CLASS_COLUMN}': empty class name in row {row + 1}")
    names = names.astype(str).tolist()
    attributes = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(attributes)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise DataValidationError(
            f"{source}: row {row + 1} (class '{names[row]}'), column '{values.columns[col]}': NaN or infinite "
            "value; every attribute needs a number"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataValidationError(f"{source}: field '{CLASS_COLUMN}': duplicated class name(s) {duplicated[:5]}")
    clashing = sorted(set(names) & set(trained_classes))
    if clashing:
        raise DataValidationError(
            f"{source}: field '{CLASS_COLUMN}': already classes of the model: {clashing[:5]}; give new names"
        )
    return names, attributes.T


def add_classes(
    model: ZeroShotClassifier,
    classes: pd.DataFrame | str | Path,
    source: str | None = None,
    fine_tune_steps: int = 0,
) -> ZeroShotClassifier:
    """A copy of ``model`` that also scores the classes of ``classes`` (a table, or a CSV file path).

    With ``fine_tune_steps`` 0 nothing is retrained: the method scores the new attribute columns as it
    scores its own. With ``fine_tune_steps`` > 0 (FSIGenZ / TCN) prototypes are generated for the
    new classes and the SCC is fine-tuned briefly (``FSIGenZClassifier.with_new_classes``).
    """
    if not isinstance(classes, pd.DataFrame):
        source = source or str(classes)
        classes = read_class_table(classes)
    source = source or "new classes table"
    if not model.accepts_new_classes:
        raise DataValidationError(
            f"{source}: method '{model.method_name}' cannot score classes added after training; fsigenz, tcn "
            "and eszsl can"
        )
    names, attributes = new_class_attributes(classes, model.attribute_dim, model.class_names, source)
    return model.with_new_classes(names, attributes, fine_tune_steps=fine_tune_steps)
