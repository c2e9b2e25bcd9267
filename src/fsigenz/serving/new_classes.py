"""Classes added at prediction time, from their attribute vectors.

The table has a column ``class`` (the name) followed by one numeric column per attribute, in the
order of the training attributes — the layout of the generic format's ``class_attributes.csv``.
Values must be in the form the training classes had (xlsa17 ``att`` and the synthetic data: each
class vector L2-normalised). Validation happens here, once, with messages that name the source, the
row (counted from 0: row 0 is the first class after the header) and the column: a table with no
class row, a wrong number of attribute columns, a value that is not a finite number, an all-zero
attribute vector (ingestion refuses those too), an empty or duplicated name, a name that is already
a class of the model.

:func:`add_classes` takes the model as trained (a :class:`~fsigenz.model.ZeroShotClassifier`) or as
``mlflow.pyfunc.load_model`` returns it (:func:`classifier_of`).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from fsigenz.data.dataset import DataValidationError
from fsigenz.model import ZeroShotClassifier
from fsigenz.serving.feature_table import listing

CLASS_COLUMN = "class"


def classifier_of(model) -> ZeroShotClassifier:
    """The :class:`ZeroShotClassifier` of ``model``: the model itself, or the one inside a served model
    as ``mlflow.pyfunc.load_model`` returns it (its ``unwrap_python_model()`` holds ``trained_model``)."""
    if isinstance(model, ZeroShotClassifier):
        return model
    unwrap = getattr(model, "unwrap_python_model", None)
    inner = unwrap() if callable(unwrap) else model
    trained = getattr(inner, "trained_model", None)
    if isinstance(trained, ZeroShotClassifier):
        return trained
    raise TypeError(
        f"model: expected a fsigenz ZeroShotClassifier (trained_model.pkl) or a served fsigenz model "
        f"loaded with mlflow.pyfunc.load_model, got {type(model).__name__}"
        + (
            " whose python model holds no fsigenz classifier (logged by an older version of the project: "
            "retrain it)"
            if callable(unwrap)
            else ""
        )
    )


def read_class_table(path: str | Path) -> pd.DataFrame:
    """The CSV file of new classes (validated later, against a model, by :func:`new_class_attributes`)."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(
            f"{path}: file not found; expected a CSV 'class,<one column per attribute>' there"
        )
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataValidationError(f"{path}: not a readable CSV ({type(error).__name__}: {error})") from error


def table_from_csv_text(text: str | None, source: str) -> pd.DataFrame | None:
    """A table from CSV text (a request parameter: new classes, or labelled examples); None for empty
    text or None (nothing to add). A header without rows is a table without rows, which validation refuses."""
    if text is None or not str(text).strip():
        return None
    try:
        return pd.read_csv(io.StringIO(str(text)))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataValidationError(
            f"{source}: not readable as CSV ({type(error).__name__}: {error})"
        ) from error


def class_names_column(table: pd.DataFrame, source: str) -> list[str]:
    """The ``class`` column as names, refusing a missing column and empty names (row counted from 0)."""
    if CLASS_COLUMN not in table.columns:
        raise DataValidationError(
            f"{source}: missing column '{CLASS_COLUMN}'; found {listing(list(table.columns), 5)}"
        )
    names = table[CLASS_COLUMN]
    empty = names.isna().to_numpy() | (names.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        raise DataValidationError(
            f"{source}: column '{CLASS_COLUMN}', row {int(np.flatnonzero(empty)[0])}: expected a class "
            "name, got an empty one"
        )
    return names.astype(str).tolist()


def new_class_attributes(
    table: pd.DataFrame,
    attribute_dim: int,
    trained_classes: tuple[str, ...] = (),
    source: str = "new classes",
) -> tuple[list[str], np.ndarray]:
    """Validated (names, attributes (m, L)) from a table ``class,<m attribute columns>``."""
    if CLASS_COLUMN not in table.columns:
        raise DataValidationError(
            f"{source}: missing column '{CLASS_COLUMN}'; found {listing(list(table.columns), 5)}"
        )
    values = table.drop(columns=CLASS_COLUMN)
    if values.shape[1] != attribute_dim:
        raise DataValidationError(
            f"{source}: expected {attribute_dim} attribute columns after '{CLASS_COLUMN}' (the model's "
            f"attribute dimension), got {values.shape[1]}: {listing(list(values.columns), 5)}"
        )
    if len(table) == 0:
        raise DataValidationError(
            f"{source}: no class rows after the header; expected one row per class to add"
        )
    names = class_names_column(table, source)
    non_numeric = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if non_numeric:
        column = non_numeric[0]
        row = int(np.flatnonzero(pd.to_numeric(values[column], errors="coerce").isna().to_numpy())[0])
        raise DataValidationError(
            f"{source}: row {row} (class '{names[row]}'), column '{column}': expected a number, got "
            f"{values[column].iloc[row]!r}"
        )
    attributes = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(attributes)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise DataValidationError(
            f"{source}: row {row} (class '{names[row]}'), column '{values.columns[col]}': expected a "
            f"finite number, got {attributes[row, col]}; every attribute needs a number"
        )
    zero = np.flatnonzero(~np.any(attributes != 0, axis=1))
    if zero.size:
        row = int(zero[0])
        raise DataValidationError(
            f"{source}: row {row} (class '{names[row]}'): all-zero attribute vector; expected at least "
            "one non-zero attribute (a class described by nothing cannot be told apart)"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataValidationError(
            f"{source}: column '{CLASS_COLUMN}': duplicated class name(s) {listing(duplicated, 5)}"
        )
    clashing = sorted(set(names) & set(trained_classes))
    if clashing:
        raise DataValidationError(
            f"{source}: column '{CLASS_COLUMN}': already classes of the model: {listing(clashing, 5)}; "
            "give new names"
        )
    return names, attributes.T


def add_classes(
    model,
    classes: pd.DataFrame | str | Path,
    source: str | None = None,
    scoring: str = "auto",
    margin: float | None = None,
) -> ZeroShotClassifier:
    """A copy of the model's classifier that also scores the classes of ``classes`` (a table, or a CSV
    file path). ``model``: a :class:`ZeroShotClassifier` or a served model from ``mlflow.pyfunc.load_model``.

    Nothing is retrained. ``scoring`` and ``margin`` (``ZeroShotClassifier.with_new_classes``):
    ``"auto"`` scores the new classes by prototypes for FSIGenZ (less the margin δ, by default
    ``fsigenz.methods.prototype_classes.ADDED_CLASS_MARGIN`` on the anchored default), by attributes
    for TCN / ESZSL.
    """
    classifier = classifier_of(model)
    if not isinstance(classes, pd.DataFrame):
        source = source or str(classes)
        classes = read_class_table(classes)
    source = source or "new classes table"
    if not (classifier.accepts_new_classes or classifier.scores_classes_by_prototypes):
        raise DataValidationError(
            f"{source}: method '{classifier.method_name}' cannot score classes added after training; "
            "fsigenz, tcn and eszsl can"
        )
    names, attributes = new_class_attributes(
        classes, classifier.attribute_dim, classifier.class_names, source
    )
    return classifier.with_new_classes(names, attributes, scoring=scoring, margin=margin)
