"""The xlsa17 layout (Xian et al., "Zero-Shot Learning — the Good, the Bad and the Ugly").

A directory holds ``att_splits.mat`` (class attributes, class names and 1-based split locations)
and a feature file: ``res101.mat`` as distributed (``features`` d × N, ``labels`` N × 1, 1-based into
``allclasses_names``), or the ``.npz`` written by the feature-extraction pipeline in the same row
order (``features`` N × d, ``labels`` N 1-based, ``image_files``).

Quirks handled (see the project's data notes):
- a CUB copy without ``train_loc`` / ``val_loc``: the validation classes come from
  ``valclasses<fold>.txt`` when present, else are drawn deterministically from the seen classes;
- AwA2 ``original_att`` holds −1 for "unknown" entries: they are set to 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import scipy.io

from fsigenz.data.dataset import (
    DataValidationError,
    ZeroShotDataset,
    choose_val_classes,
    split_by_val_classes,
)

logger = logging.getLogger(__name__)

REQUIRED_SPLIT_KEYS = ("allclasses_names", "trainval_loc", "test_seen_loc", "test_unseen_loc")
ATTRIBUTE_KEYS = ("att", "original_att")
# variable of a simulated res101.mat (write_res101_standin) that real xlsa17 files do not have
STANDIN_MARKER = "simulated_by"


def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DataValidationError(f"{path}: file not found; expected {what} there")
    return path


def _load_mat(path: Path) -> dict:
    try:
        return scipy.io.loadmat(str(path))
    except Exception as error:  # scipy raises several types for a corrupt file
        raise DataValidationError(
            f"{path}: not a readable MATLAB .mat file ({type(error).__name__}: {error})"
        ) from error


def _require_key(content: dict, key: str, path: Path) -> np.ndarray:
    if key not in content:
        found = sorted(k for k in content if not k.startswith("__"))
        raise DataValidationError(f"{path}: missing key '{key}'; found keys {found}")
    return content[key]


def _names(cell: np.ndarray) -> list[str]:
    return [
        str(np.asarray(item).ravel()[0]) if np.asarray(item).size else "" for item in np.asarray(cell).ravel()
    ]


def _whole_numbers(values: np.ndarray, path: Path, key: str, what: str) -> np.ndarray:
    """``values`` as int64, refusing NaN and fractions (naming the first bad entry, 1-based) instead of
    truncating."""
    values = np.asarray(values).ravel()
    if not np.issubdtype(values.dtype, np.number):
        raise DataValidationError(
            f"{path}: field '{key}': expected {what} (whole numbers), got dtype {values.dtype}"
        )
    bad = (
        ~np.isfinite(values) | (values != np.round(values))
        if np.issubdtype(values.dtype, np.floating)
        else np.zeros(values.size, bool)
    )
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"{path}: field '{key}': expected {what} (whole numbers), "
            f"got {values[first].item()!r} at entry {first + 1} "
            f"({int(bad.sum())} such entries)"
        )
    return values.astype(np.int64)


def _locations(content: dict, key: str, path: Path, n_rows: int) -> np.ndarray:
    """1-based locations → 0-based row indices, range-checked against the feature file."""
    locations = _whole_numbers(_require_key(content, key, path), path, key, "1-based row locations")
    if locations.size and (locations.min() < 1 or locations.max() > n_rows):
        raise DataValidationError(
            f"{path}: field '{key}': expected 1-based rows in [1, {n_rows}] (the feature file has "
            f"{n_rows} rows), got values in [{locations.min()}, {locations.max()}]"
        )
    values, counts = np.unique(locations, return_counts=True)
    if (counts > 1).any():
        repeated = values[counts > 1]
        raise DataValidationError(
            f"{path}: field '{key}': expected each location once; {repeated.size} repeated, e.g. "
            f"{[int(v) for v in repeated[:5]]} (1-based rows of the feature file)"
        )
    return locations - 1


def _check_disjoint(locations: dict[str, np.ndarray], path: Path) -> None:
    """The evaluation splits share no image; name the shared 1-based locations."""
    names = list(locations)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = np.intersect1d(locations[first], locations[second])
            if shared.size:
                raise DataValidationError(
                    f"{path}: field '{second}': expected no location of '{first}'; "
                    f"{shared.size} shared, e.g. "
                    f"{[int(v) + 1 for v in shared[:5]]} (1-based rows of the feature file)"
                )


def read_features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, d) float32, labels (N,) 1-based) from ``res101.mat`` or an extraction ``.npz``."""
    _require_file(path, "image features: xlsa17 res101.mat or the feature-extraction .npz")
    if path.suffix == ".npz":
        try:
            content = dict(np.load(path, allow_pickle=False))
        except Exception as error:
            raise DataValidationError(
                f"{path}: not a readable .npz file ({type(error).__name__}: {error})"
            ) from error
        features = np.asarray(_require_key(content, "features", path))
        labels = np.asarray(_require_key(content, "labels", path)).ravel()
    else:
        content = _load_mat(path)
        features = np.asarray(_require_key(content, "features", path))
        labels = np.asarray(_require_key(content, "labels", path)).ravel()
        if features.ndim != 2:
            raise DataValidationError(
                f"{path}: field 'features': expected a (d, N) matrix, got {features.shape}"
            )
        if features.shape[0] == labels.size != features.shape[1]:
            raise DataValidationError(
                f"{path}: field 'features': looks transposed: "
                f"expected (d, N) = one column per image as xlsa17 stores it, "
                f"got {features.shape} with {labels.size} labels (one row per image); store features.T"
            )
        features = features.T  # res101.mat stores d x N
    if path.suffix == ".npz" and features.ndim == 2 and features.shape[1] == labels.size != features.shape[0]:
        raise DataValidationError(
            f"{path}: field 'features': looks transposed: expected (N, d) = one row per image, got "
            f"{features.shape} with {labels.size} labels; store features.T"
        )
    if features.ndim != 2 or features.shape[0] != labels.size:
        raise DataValidationError(
            f"{path}: field 'labels': expected one label per image "
            f"({features.shape[0] if features.ndim == 2 else '?'}), "
            f"got {labels.size}"
        )
    if not np.issubdtype(features.dtype, np.number):
        raise DataValidationError(f"{path}: field 'features': expected numbers, got dtype {features.dtype}")
    labels = _whole_numbers(labels, path, "labels", "1-based class indices")
    return np.asarray(features, dtype=np.float32), labels.astype(np.int64)


def _read_class_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def load_xlsa17(
    directory: str | Path,
    features_file: str = "res101.mat",
    splits_file: str = "att_splits.mat",
    attributes: str = "att",
    validation_fold: int = 1,
    n_val_classes: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> ZeroShotDataset:
    """Read an xlsa17 directory into a validated :class:`ZeroShotDataset`."""
    directory = Path(directory)
    splits_path = _require_file(
        directory / splits_file, "the xlsa17 att_splits.mat (class attributes and split locations)"
    )
    features_path = directory / features_file
    if attributes not in ATTRIBUTE_KEYS:
        raise DataValidationError(
            f"xlsa17 source: field 'attributes': expected one of {ATTRIBUTE_KEYS}, got '{attributes}'"
        )

    splits = _load_mat(splits_path)
    for key in REQUIRED_SPLIT_KEYS + (attributes,):
        _require_key(splits, key, splits_path)
    class_names = _names(splits["allclasses_names"])
    class_attributes = np.asarray(splits[attributes], dtype=np.float64)
    if class_attributes.ndim != 2 or class_attributes.shape[1] != len(class_names):
        raise DataValidationError(
            f"{splits_path}: field '{attributes}': expected (m, {len(class_names)}) — one column per class "
            f"in allclasses_names — got {class_attributes.shape}"
        )
    if not np.isfinite(class_attributes).all():
        raise DataValidationError(f"{splits_path}: field '{attributes}': contains NaN or Inf")
    if (class_attributes < 0).any():
        logger.warning(
            "%s: %d negative entries in '%s' (xlsa17 marks unknown values -1); set to 0",
            splits_path,
            int((class_attributes < 0).sum()),
            attributes,
        )
        class_attributes = np.clip(class_attributes, 0.0, None)

    features, labels_1based = read_features(features_path)
    n_rows, n_classes = features.shape[0], len(class_names)
    if labels_1based.min() < 1 or labels_1based.max() > n_classes:
        raise DataValidationError(
            f"{features_path}: field 'labels': expected 1-based class indices in [1, {n_classes}] "
            f"({splits_path.name} lists {n_classes} classes), "
            f"got [{labels_1based.min()}, {labels_1based.max()}]"
        )
    labels = labels_1based - 1
    trainval = _locations(splits, "trainval_loc", splits_path, n_rows)
    test_seen = _locations(splits, "test_seen_loc", splits_path, n_rows)
    test_unseen = _locations(splits, "test_unseen_loc", splits_path, n_rows)
    _check_disjoint(
        {"trainval_loc": trainval, "test_seen_loc": test_seen, "test_unseen_loc": test_unseen}, splits_path
    )

    seen_classes = np.unique(labels[np.concatenate([trainval, test_seen])])
    unseen_classes = np.setdiff1d(np.arange(n_classes), seen_classes)
    wrong = np.intersect1d(labels[test_unseen], seen_classes)
    if wrong.size:
        raise DataValidationError(
            f"{splits_path}: field 'test_unseen_loc': holds images of seen classes "
            f"{[class_names[c] for c in wrong[:5]]} (classes with trainval or test_seen images)"
        )

    if "val_loc" in splits:
        val_rows = _locations(splits, "val_loc", splits_path, n_rows)
        val_classes, origin = np.unique(labels[val_rows]), "val_loc"
    elif (directory / f"valclasses{validation_fold}.txt").is_file():
        listed = _read_class_list(directory / f"valclasses{validation_fold}.txt")
        index = {n: i for i, n in enumerate(class_names)}
        unknown = [n for n in listed if n not in index]
        if unknown:
            raise DataValidationError(
                f"{directory / f'valclasses{validation_fold}.txt'}: "
                f"class names not in allclasses_names: {unknown[:5]}"
            )
        val_classes, origin = np.array(sorted(index[n] for n in listed)), f"valclasses{validation_fold}.txt"
    else:
        count = n_val_classes or max(1, seen_classes.size // 5)
        val_classes, origin = (
            choose_val_classes(seen_classes, count, seed),
            f"{count} classes drawn with seed {seed}",
        )
    logger.info("%s: validation classes from %s", directory, origin)
    train, val = split_by_val_classes(labels, trainval, val_classes)

    return ZeroShotDataset(
        features=features,
        labels=labels,
        class_names=class_names,
        class_attributes=class_attributes,
        seen_classes=seen_classes,
        unseen_classes=unseen_classes,
        splits=dict(trainval=trainval, test_seen=test_seen, test_unseen=test_unseen, train=train, val=val),
        name=name or directory.name,
        source=str(directory),
        metadata={
            "features_file": str(features_path),
            "attributes": attributes,
            "validation_classes_from": origin,
        },
    )


def write_res101_standin(
    splits_path: str | Path,
    output_path: str | Path,
    feature_dim: int = 64,
    seed: int = 0,
    validation_classes_file: str | Path | None = None,
    appearance: dict | None = None,
) -> Path:
    """Write a ``res101.mat`` stand-in for a real ``att_splits.mat`` (the real features are not public here).

    Every 1-based location of the real file gets a class consistent with the splits (trainval and
    test_seen rows → seen classes, test_unseen rows → unseen classes, val_loc rows → val classes);
    features are simulated from the real attributes with the synthetic generative story.
    """
    from fsigenz.data.synthetic import DEFAULTS, simulate_features

    splits_path, output_path = Path(splits_path), Path(output_path)
    splits = _load_mat(splits_path)
    class_names = _names(splits["allclasses_names"])
    attributes = np.asarray(splits["att"], dtype=np.float64)
    rng = np.random.default_rng(seed)
    locs = {k: np.asarray(splits[k]).astype(np.int64).ravel() - 1 for k in splits if k.endswith("_loc")}
    n_rows = int(max(v.max() for v in locs.values())) + 1
    n_classes = len(class_names)
    unseen_names = None
    testclasses = splits_path.parent / "testclasses.txt"
    if testclasses.is_file():
        unseen_names = set(_read_class_list(testclasses))
    if unseen_names:
        unseen = np.array([i for i, n in enumerate(class_names) if n in unseen_names])
    else:
        unseen = np.sort(rng.choice(n_classes, size=max(1, n_classes // 5), replace=False))
    seen = np.setdiff1d(np.arange(n_classes), unseen)
    val_file = (
        Path(validation_classes_file) if validation_classes_file else splits_path.parent / "valclasses1.txt"
    )
    if val_file.is_file():
        index = {n: i for i, n in enumerate(class_names)}
        val_classes = np.array(sorted(index[n] for n in _read_class_list(val_file)))
    else:
        val_classes = np.sort(rng.choice(seen, size=max(1, seen.size // 3), replace=False))
    train_classes = np.setdiff1d(seen, val_classes)

    def assign(rows: np.ndarray, classes: np.ndarray) -> None:
        # every class gets at least one row, the remaining rows a random class of the set
        extra = rng.choice(classes, size=max(0, rows.size - classes.size))
        labels[rows] = rng.permutation(np.concatenate([classes, extra]))[: rows.size]

    labels = np.full(n_rows, -1, dtype=np.int64)
    assign(locs["test_unseen_loc"], unseen)
    if "val_loc" in locs:
        assign(locs["val_loc"], val_classes)
        assign(locs["train_loc"], train_classes)
    else:
        assign(locs["trainval_loc"], seen)
        assign(locs["test_seen_loc"], seen)
    labels[labels < 0] = rng.choice(seen, size=int((labels < 0).sum()))  # rows no split names

    params = {**DEFAULTS, **(appearance or {}), "feature_dim": feature_dim}
    features = simulate_features(attributes, labels, params, rng)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(
        str(output_path),
        {
            "features": features.T,
            "labels": (labels + 1).reshape(-1, 1).astype(np.float64),
            # so no report takes it for real features
            STANDIN_MARKER: "fsigenz.data.xlsa17.write_res101_standin",
        },
    )
    return output_path
