"""The zero-shot data model: one validated container for every source.

A :class:`ZeroShotDataset` holds image features, their class labels, the class attribute matrix and
the splits of the "proposed split" protocol (Xian et al.). Every source (synthetic, xlsa17, the
generic format, the feature-extraction output) builds one, and everything downstream reads only
this. Validation happens once, at construction, with messages that name the field, what was
expected and what was received.

Shapes (paper symbols in brackets):
- ``features``: (N, d) float32, one row per image [x].
- ``labels``: (N,) int64, 0-based index into ``class_names``.
- ``class_attributes``: (m, C) float64, one column per class [A_o].
- ``seen_classes`` / ``unseen_classes``: class indices [S] / [U]; disjoint, together all C classes.
- ``splits``: row indices into ``features`` for ``trainval``, ``test_seen``, ``test_unseen`` and the
  class-disjoint model-selection split ``train`` / ``val`` (both inside ``trainval``; the ``val``
  classes play "unseen" during model selection).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLIT_NAMES = ("trainval", "test_seen", "test_unseen", "train", "val")


class DataValidationError(ValueError):
    """Raised when input data does not fit the zero-shot data model.

    The message names the source (file or argument), the field, what was expected and what was found.
    """


def _fail(source: str, field_name: str, message: str) -> None:
    raise DataValidationError(f"{source}: field '{field_name}': {message}")


@dataclass(frozen=True)
class ZeroShotDataset:
    """Validated zero-shot benchmark: features, labels, class attributes and splits."""

    features: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    class_attributes: np.ndarray
    seen_classes: np.ndarray
    unseen_classes: np.ndarray
    splits: dict[str, np.ndarray]
    name: str = "dataset"
    source: str = "<in memory>"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", np.ascontiguousarray(self.features, dtype=np.float32))
        object.__setattr__(self, "labels", np.asarray(self.labels).astype(np.int64, copy=False))
        object.__setattr__(self, "class_names", tuple(str(n) for n in self.class_names))
        object.__setattr__(self, "class_attributes", np.asarray(self.class_attributes, dtype=np.float64))
        object.__setattr__(self, "seen_classes", np.asarray(self.seen_classes, dtype=np.int64))
        object.__setattr__(self, "unseen_classes", np.asarray(self.unseen_classes, dtype=np.int64))
        object.__setattr__(
            self,
            "splits",
            {name: np.asarray(rows, dtype=np.int64).ravel() for name, rows in self.splits.items()},
        )
        self._validate()

    # ------------------------------------------------------------------ derived views
    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def attribute_dim(self) -> int:
        return int(self.class_attributes.shape[0])

    @property
    def val_classes(self) -> np.ndarray:
        """Seen classes held out for model selection (the classes of the ``val`` split)."""
        return np.unique(self.labels[self.splits["val"]])

    @property
    def train_classes(self) -> np.ndarray:
        """Seen classes trained on during model selection (the classes of the ``train`` split)."""
        return np.unique(self.labels[self.splits["train"]])

    def summary(self) -> dict:
        return {
            "name": self.name,
            "n_images": int(self.features.shape[0]),
            "feature_dim": self.feature_dim,
            "attribute_dim": self.attribute_dim,
            "n_classes": self.n_classes,
            "n_seen": int(self.seen_classes.size),
            "n_unseen": int(self.unseen_classes.size),
            "n_val_classes": int(self.val_classes.size),
            **{f"n_{name}": int(rows.size) for name, rows in self.splits.items()},
        }

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:  # noqa: C901 - one check per rule reads best flat
        src = self.source
        feats, labels, att = self.features, self.labels, self.class_attributes
        if feats.ndim != 2 or feats.shape[0] == 0 or feats.shape[1] == 0:
            _fail(src, "features", f"expected a non-empty (N, d) matrix, got shape {feats.shape}")
        if not np.isfinite(feats).all():
            bad = np.argwhere(~np.isfinite(feats))[0]
            _fail(src, "features", f"contains NaN or Inf (first at row {bad[0]}, column {bad[1]})")
        if labels.ndim != 1 or labels.shape[0] != feats.shape[0]:
            _fail(
                src,
                "labels",
                f"expected one label per feature row ({feats.shape[0]}), got shape {labels.shape}",
            )
        n_classes = len(self.class_names)
        if n_classes == 0:
            _fail(src, "class_names", "expected at least one class name, got none")
        if len(set(self.class_names)) != n_classes:
            dupes = sorted({n for n in self.class_names if self.class_names.count(n) > 1})
            _fail(src, "class_names", f"class names must be unique; duplicated: {dupes[:5]}")
        if att.ndim != 2 or att.shape[1] != n_classes:
            _fail(
                src,
                "class_attributes",
                f"expected an (m, C) matrix with C = {n_classes} classes, got shape {att.shape}",
            )
        if not np.isfinite(att).all():
            _fail(src, "class_attributes", "contains NaN or Inf")
        if labels.min() < 0 or labels.max() >= n_classes:
            _fail(
                src,
                "labels",
                f"expected class indices in [0, {n_classes - 1}], "
                f"got values in [{labels.min()}, {labels.max()}]",
            )
        seen, unseen = self.seen_classes, self.unseen_classes
        for name, classes in (("seen_classes", seen), ("unseen_classes", unseen)):
            if classes.ndim != 1 or classes.size == 0:
                _fail(src, name, f"expected a non-empty list of class indices, got {classes.shape}")
            if classes.min() < 0 or classes.max() >= n_classes:
                _fail(src, name, f"class index out of range [0, {n_classes - 1}]")
            if np.unique(classes).size != classes.size:
                _fail(src, name, "contains duplicate class indices")
        overlap = np.intersect1d(seen, unseen)
        if overlap.size:
            names = [self.class_names[c] for c in overlap[:5]]
            _fail(src, "unseen_classes", f"classes both seen and unseen: {names}")
        if seen.size + unseen.size != n_classes:
            missing = np.setdiff1d(np.arange(n_classes), np.union1d(seen, unseen))
            names = [self.class_names[c] for c in missing[:5]]
            _fail(src, "seen_classes", f"every class must be seen or unseen; neither: {names}")

        missing_splits = [s for s in SPLIT_NAMES if s not in self.splits]
        if missing_splits:
            _fail(src, "splits", f"missing split(s) {missing_splits}; expected {list(SPLIT_NAMES)}")
        n_rows = feats.shape[0]
        for name in SPLIT_NAMES:
            rows = self.splits[name]
            if rows.size == 0:
                _fail(src, f"splits.{name}", "is empty")
            if rows.min() < 0 or rows.max() >= n_rows:
                _fail(
                    src,
                    f"splits.{name}",
                    f"row index out of range [0, {n_rows - 1}]: got [{rows.min()}, {rows.max()}]",
                )
            values, counts = np.unique(rows, return_counts=True)
            if (counts > 1).any():
                _fail(
                    src,
                    f"splits.{name}",
                    f"contains duplicate row indices (0-based): {values[counts > 1][:5].tolist()}",
                )

        split = self.splits
        for a, b in (
            ("trainval", "test_seen"),
            ("trainval", "test_unseen"),
            ("test_seen", "test_unseen"),
            ("train", "val"),
        ):
            shared = np.intersect1d(split[a], split[b])
            if shared.size:
                _fail(
                    src,
                    f"splits.{b}",
                    f"overlaps splits.{a} in {shared.size} rows (0-based: {shared[:5].tolist()})",
                )
        if (
            not np.isin(split["train"], split["trainval"]).all()
            or not np.isin(split["val"], split["trainval"]).all()
        ):
            _fail(src, "splits.train/val", "the model-selection split must lie inside trainval")

        def _classes_outside(split_name: str, allowed: np.ndarray, what: str) -> None:
            classes = np.unique(labels[split[split_name]])
            wrong = np.setdiff1d(classes, allowed)
            if wrong.size:
                names = [self.class_names[c] for c in wrong[:5]]
                _fail(src, f"splits.{split_name}", f"holds images of {what} classes {names}")

        _classes_outside("trainval", seen, "unseen")
        _classes_outside("test_seen", seen, "unseen")
        _classes_outside("test_unseen", unseen, "seen")
        shared_classes = np.intersect1d(labels[split["train"]], labels[split["val"]])
        if shared_classes.size:
            names = [self.class_names[c] for c in shared_classes[:5]]
            _fail(src, "splits.val", f"train and val must be class-disjoint; shared classes {names}")

        empty_seen = np.setdiff1d(seen, labels[split["trainval"]])
        if empty_seen.size:
            names = [self.class_names[c] for c in empty_seen[:5]]
            _fail(src, "splits.trainval", f"seen classes with no training image: {names}")
        empty_unseen = np.setdiff1d(unseen, labels[split["test_unseen"]])
        if empty_unseen.size:
            names = [self.class_names[c] for c in empty_unseen[:5]]
            _fail(src, "splits.test_unseen", f"unseen classes with no test image: {names}")
        zero_cols = np.flatnonzero(~np.any(att != 0, axis=0))
        if zero_cols.size:
            names = [self.class_names[c] for c in zero_cols[:5]]
            _fail(src, "class_attributes", f"classes with an all-zero attribute vector: {names}")


def split_by_val_classes(
    labels: np.ndarray, trainval_rows: np.ndarray, val_classes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Class-disjoint train / val rows inside ``trainval``: val = images of ``val_classes``."""
    trainval_rows = np.asarray(trainval_rows, dtype=np.int64)
    in_val = np.isin(labels[trainval_rows], val_classes)
    return trainval_rows[~in_val], trainval_rows[in_val]


def choose_val_classes(seen_classes: np.ndarray, n_val: int, seed: int) -> np.ndarray:
    """Deterministically hold out ``n_val`` seen classes for model selection."""
    if len(seen_classes) < 2:
        raise DataValidationError(
            f"validation: field 'seen_classes': expected at least 2 seen classes (one or more are held out "
            f"for model selection), got {len(seen_classes)}"
        )
    if not 0 < n_val < len(seen_classes):
        raise DataValidationError(
            f"validation: field 'n_val_classes': expected 1..{len(seen_classes) - 1}, got {n_val}"
        )
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(np.asarray(seen_classes), size=n_val, replace=False))


def without_classes(dataset: ZeroShotDataset, classes) -> ZeroShotDataset:
    """``dataset`` as if ``classes`` (class indices) had never existed: their attribute columns, names
    and images are gone from every split, the other classes renumbered in order, rows kept in order.
    To train a model without some classes and add them afterwards (docs/serving.md)."""
    classes = np.unique(np.asarray(classes, dtype=np.int64))
    if classes.size and (classes.min() < 0 or classes.max() >= dataset.n_classes):
        raise ValueError(
            f"classes: expected class indices in [0, {dataset.n_classes - 1}], got {classes.tolist()}"
        )
    keep = np.setdiff1d(np.arange(dataset.n_classes), classes)
    new_index = np.full(dataset.n_classes, -1, dtype=np.int64)
    new_index[keep] = np.arange(keep.size)
    kept_rows = np.flatnonzero(np.isin(dataset.labels, keep))
    new_row = np.full(dataset.labels.size, -1, dtype=np.int64)
    new_row[kept_rows] = np.arange(kept_rows.size)
    return ZeroShotDataset(
        features=dataset.features[kept_rows],
        labels=new_index[dataset.labels[kept_rows]],
        class_names=tuple(np.asarray(dataset.class_names, dtype=object)[keep]),
        class_attributes=dataset.class_attributes[:, keep],
        seen_classes=new_index[np.intersect1d(dataset.seen_classes, keep)],
        unseen_classes=new_index[np.intersect1d(dataset.unseen_classes, keep)],
        splits={
            name: new_row[rows[np.isin(dataset.labels[rows], keep)]] for name, rows in dataset.splits.items()
        },
        name=dataset.name,
        source=f"{dataset.source} without {classes.size} class(es)",
        metadata=dict(dataset.metadata),
    )
