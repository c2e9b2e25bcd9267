"""The generic format: a user's own classes without faking a ``.mat`` file.

A directory holds three files (names configurable):

- ``features.npy`` — (N, d) float array, one row per image;
- ``images.csv`` — one row per feature row, in the same order, with columns ``label`` (class name)
  and ``split`` (``trainval``, ``test_seen`` or ``test_unseen``); other columns (e.g. ``path``) are
  kept as metadata;
- ``class_attributes.csv`` — column ``class`` (class name) followed by one numeric column per
  attribute; every class that has images needs a row, and a class may have a row without images
  (it can then only be scored, not tested).

Unseen classes are those whose images are all in ``test_unseen``. The class-disjoint validation
classes come from ``val_classes.txt`` (one class name per line) when present, else
``n_val_classes`` seen classes are drawn with ``seed``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fsigenz.data.dataset import (
    DataValidationError,
    ZeroShotDataset,
    choose_val_classes,
    split_by_val_classes,
)

SPLIT_VALUES = ("trainval", "test_seen", "test_unseen")


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DataValidationError(f"{path}: file not found; expected {what} there")
    return path


def _read_table(path: Path, expected: str) -> pd.DataFrame:
    """A CSV file with at least one data row, or an error naming the file and what it should hold."""
    try:
        table = pd.read_csv(path)
    except pd.errors.EmptyDataError as error:
        raise DataValidationError(f"{path}: the file is empty; expected {expected}") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataValidationError(
            f"{path}: not a readable CSV file ({type(error).__name__}: {error}); expected {expected}"
        ) from error
    if table.empty:
        raise DataValidationError(
            f"{path}: has a header ({list(table.columns)[:5]}) but no rows; expected {expected}"
        )
    return table


def load_generic(
    directory: str | Path,
    features_file: str = "features.npy",
    images_file: str = "images.csv",
    attributes_file: str = "class_attributes.csv",
    val_classes_file: str = "val_classes.txt",
    n_val_classes: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> ZeroShotDataset:
    """Read the generic format into a validated :class:`ZeroShotDataset`."""
    directory = Path(directory)
    features_path = _require(directory / features_file, "an (N, d) float .npy array of image features")
    images_path = _require(
        directory / images_file, "a CSV with columns 'label' and 'split', one row per feature row"
    )
    attributes_path = _require(
        directory / attributes_file, "a CSV with column 'class' then one numeric column per attribute"
    )

    try:
        features = np.load(features_path, allow_pickle=False)
    except Exception as error:
        raise DataValidationError(
            f"{features_path}: not a readable .npy array ({type(error).__name__}: {error})"
        ) from error
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.number):
        raise DataValidationError(
            f"{features_path}: expected a numeric (N, d) array, got shape {features.shape}, "
            f"dtype {features.dtype}"
        )

    images = _read_table(images_path, "columns 'label' and 'split', one row per feature row")
    for column in ("label", "split"):
        if column not in images.columns:
            raise DataValidationError(
                f"{images_path}: missing column '{column}'; found {list(images.columns)}"
            )
    if features.shape[1] == len(images) != features.shape[0]:
        raise DataValidationError(
            f"{features_path}: looks transposed: expected (N, d) = one row per image ({len(images)} rows in "
            f"{images_path.name}), got {features.shape}; save features.T"
        )
    if len(images) != features.shape[0]:
        raise DataValidationError(
            f"{images_path}: expected one row per feature row ({features.shape[0]} in {features_path.name}), "
            f"got {len(images)}"
        )
    bad_split = ~images["split"].isin(SPLIT_VALUES)
    if bad_split.any():
        row = int(np.flatnonzero(bad_split)[0])
        raise DataValidationError(
            f"{images_path}: field 'split': expected one of {SPLIT_VALUES}, "
            f"got '{images['split'].iloc[row]}' (row {row + 2})"
        )

    table = _read_table(
        attributes_path, "column 'class' then one numeric column per attribute, one row per class"
    )
    if "class" not in table.columns:
        raise DataValidationError(
            f"{attributes_path}: missing column 'class'; found {list(table.columns)[:5]}"
        )
    if table.shape[1] < 2:
        raise DataValidationError(f"{attributes_path}: expected at least one attribute column after 'class'")
    values = table.drop(columns="class")
    non_numeric = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if non_numeric:
        raise DataValidationError(
            f"{attributes_path}: attribute columns must be numeric; not numeric: {non_numeric[:5]}"
        )
    class_names = table["class"].astype(str).tolist()
    index = {n: i for i, n in enumerate(class_names)}
    if len(index) != len(class_names):
        repeated = table["class"].astype(str)[table["class"].astype(str).duplicated(keep=False)]
        where = {
            name: [int(row) + 2 for row in rows] for name, rows in repeated.groupby(repeated).groups.items()
        }
        raise DataValidationError(
            f"{attributes_path}: field 'class': expected unique class names; "
            f"repeated (with their CSV lines): "
            f"{dict(list(where.items())[:5])}"
        )
    unknown = sorted(set(images["label"].astype(str)) - set(index))
    if unknown:
        raise DataValidationError(
            f"{images_path}: field 'label': classes without a row in {attributes_path.name}: {unknown[:5]}"
        )

    labels = images["label"].astype(str).map(index).to_numpy(dtype=np.int64)
    rows = {s: np.flatnonzero(images["split"].to_numpy() == s) for s in SPLIT_VALUES}
    seen_classes = np.unique(labels[np.concatenate([rows["trainval"], rows["test_seen"]])])
    unseen_classes = np.setdiff1d(np.arange(len(class_names)), seen_classes)
    wrong = np.intersect1d(labels[rows["test_unseen"]], seen_classes)
    if wrong.size:
        raise DataValidationError(
            f"{images_path}: field 'split': test_unseen rows of seen classes "
            f"{[class_names[c] for c in wrong[:5]]}"
        )

    val_path = directory / val_classes_file
    if val_path.is_file():
        listed = [line.strip() for line in val_path.read_text().splitlines() if line.strip()]
        not_seen = [n for n in listed if n not in index or index[n] not in seen_classes]
        if not_seen:
            raise DataValidationError(
                f"{val_path}: validation classes must be seen classes; not seen: {not_seen[:5]}"
            )
        val_classes = np.array(sorted(index[n] for n in listed))
    else:
        val_classes = choose_val_classes(seen_classes, n_val_classes or max(1, seen_classes.size // 5), seed)
    train, val = split_by_val_classes(labels, rows["trainval"], val_classes)

    return ZeroShotDataset(
        features=features,
        labels=labels,
        class_names=class_names,
        class_attributes=values.to_numpy(dtype=np.float64).T,
        seen_classes=seen_classes,
        unseen_classes=unseen_classes,
        splits=dict(
            trainval=rows["trainval"],
            test_seen=rows["test_seen"],
            test_unseen=rows["test_unseen"],
            train=train,
            val=val,
        ),
        name=name or directory.name,
        source=str(directory),
        metadata={"attribute_names": list(values.columns)},
    )


def write_generic(dataset: ZeroShotDataset, directory: str | Path) -> Path:
    """Write a dataset in the generic format (the inverse of :func:`load_generic`)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    split_of_row = np.full(dataset.labels.size, "", dtype=object)
    for s in SPLIT_VALUES:
        split_of_row[dataset.splits[s]] = s
    keep = split_of_row != ""
    np.save(directory / "features.npy", dataset.features[keep])
    names = np.asarray(dataset.class_names, dtype=object)
    pd.DataFrame({"label": names[dataset.labels[keep]], "split": split_of_row[keep]}).to_csv(
        directory / "images.csv", index=False
    )
    attributes = pd.DataFrame(
        dataset.class_attributes.T, columns=[f"attribute_{i}" for i in range(dataset.attribute_dim)]
    )
    attributes.insert(0, "class", list(dataset.class_names))
    attributes.to_csv(directory / "class_attributes.csv", index=False)
    (directory / "val_classes.txt").write_text("\n".join(names[dataset.val_classes]) + "\n")
    return directory
