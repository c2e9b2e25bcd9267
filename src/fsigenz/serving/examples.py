"""Labelled examples folded into a model (few-shot), from a table ``class`` + one input form.

The table has a column ``class`` (the example's class: a class of the model, or a new name) and the
example itself in one of the served model's input forms: exactly the feature columns ``feature_0`` …
``feature_{d-1}`` (or one ``features`` column of vectors), or one column ``image_path`` (embedded by
the model's image backbone). Each class's examples are averaged into one more reference of the class
(:meth:`fsigenz.model.ZeroShotClassifier.with_examples`); nothing is retrained. Rows are counted from
0, as everywhere in serving.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fsigenz.data.dataset import DataValidationError
from fsigenz.model import ZeroShotClassifier
from fsigenz.serving.image_backbone import ImageBackbone
from fsigenz.serving.model_input import features_for_scoring
from fsigenz.serving.new_classes import CLASS_COLUMN, class_names_column, classifier_of

NO_BACKBONE = ImageBackbone(None, "none was given (pass the served model, or image_backbone=)")


def examples_by_class(
    table: pd.DataFrame,
    feature_dim: int,
    image_backbone: ImageBackbone = NO_BACKBONE,
    source: str = "examples",
) -> dict[str, np.ndarray]:
    """Validated {class name: (k, d) features} from a table ``class`` + features or ``image_path``."""
    if not isinstance(table, pd.DataFrame):
        raise DataValidationError(f"{source}: expected a pandas DataFrame, got {type(table).__name__}")
    if len(table) == 0:
        raise DataValidationError(f"{source}: no example rows after the header; expected one row per example")
    names = np.asarray(class_names_column(table, source), dtype=object)
    features = features_for_scoring(table.drop(columns=CLASS_COLUMN), feature_dim, image_backbone, source)
    return {name: features[names == name] for name in dict.fromkeys(names)}


def add_examples(
    model,
    examples: pd.DataFrame | str | Path,
    image_backbone: ImageBackbone | None = None,
    source: str | None = None,
) -> ZeroShotClassifier:
    """A copy of the model's classifier with the labelled ``examples`` (a table, or a CSV file path)
    folded in.

    ``model``: a :class:`ZeroShotClassifier` or a served model from ``mlflow.pyfunc.load_model`` (whose
    image backbone then embeds ``image_path`` examples; else pass ``image_backbone``).
    """
    classifier = classifier_of(model)
    if image_backbone is None:
        unwrap = getattr(model, "unwrap_python_model", None)
        image_backbone = getattr(unwrap(), "image_backbone", None) if callable(unwrap) else None
    if not isinstance(examples, pd.DataFrame):
        source = source or str(examples)
        path = Path(examples)
        if not path.is_file():
            raise DataValidationError(
                f"{path}: file not found; expected a CSV 'class,<feature columns or image_path>'"
            )
        try:
            examples = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise DataValidationError(
                f"{path}: not a readable CSV ({type(error).__name__}: {error})"
            ) from error
    source = source or "examples table"
    for name, features in examples_by_class(
        examples, classifier.feature_dim, image_backbone or NO_BACKBONE, source
    ).items():
        try:
            classifier = classifier.with_examples(name, features)
        except ValueError as error:
            raise DataValidationError(f"{source}: class '{name}': {error}") from error
    return classifier
