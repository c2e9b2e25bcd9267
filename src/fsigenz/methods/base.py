"""What every zero-shot method is trained on and how it answers.

A :class:`ZeroShotTask` is the method-facing view of a dataset: training images (all of seen
classes), and the attribute vector of every class the method must score (seen and unseen). The same
shape serves model selection (train classes seen, val classes playing unseen) and the final fit
(trainval seen, test classes unseen), so one code path handles both.

The task validates itself once, at construction (as :class:`~fsigenz.data.dataset.ZeroShotDataset`
does), and holds its arrays in canonical dtypes, so no method repeats the checks.

A method follows the scikit-learn shape: hyperparameters in ``__init__``, ``fit(task)`` learns,
``decision_function(features)`` returns an (N, C) score matrix over the task's classes (higher is
more likely). Iterative methods accept a ``monitor``: a callable ``monitor(step, method) -> float``
called every ``eval_every`` steps, used for early stopping on validation
(:mod:`fsigenz.methods.early_stopping` holds the one contract).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

Monitor = Callable[[int, "ZeroShotMethod"], float]


@dataclass(frozen=True)
class ZeroShotTask:
    """Training view of a zero-shot problem, validated at construction.

    - ``features``: (N, d) float32 training features, all from seen classes, finite, N, d >= 1.
    - ``labels``: (N,) int64 index into the task's C classes, each one of ``seen_classes``.
    - ``class_attributes``: (m, C) float64 attributes of every class of the task [A_o], finite.
    - ``seen_classes`` / ``unseen_classes``: int64 task class indices [S] / [U]; every class index
      0..C-1 exactly once across the two; at least one seen class.

    Raises ``ValueError`` naming the field (``task.<field>``), what was expected and what was given.
    """

    features: np.ndarray
    labels: np.ndarray
    class_attributes: np.ndarray
    seen_classes: np.ndarray
    unseen_classes: np.ndarray

    def __post_init__(self) -> None:
        features = np.asarray(self.features)
        if features.ndim != 2 or 0 in features.shape:
            raise ValueError(f"task.features: expected a non-empty (N, d) matrix, got shape {features.shape}")
        attributes = np.asarray(self.class_attributes)
        if attributes.ndim != 2 or 0 in attributes.shape:
            raise ValueError(
                "task.class_attributes: expected a non-empty (m, C) matrix (one column per class), "
                f"got shape {attributes.shape}"
            )
        labels = np.asarray(self.labels)
        if labels.shape != (features.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"task.labels: expected ({features.shape[0]},) integer class indices (one per row of "
                f"task.features), got shape {labels.shape} and dtype {labels.dtype}"
            )
        classes = {}
        for name in ("seen_classes", "unseen_classes"):
            values = np.asarray(getattr(self, name))
            integral = np.issubdtype(values.dtype, np.integer) or values.size == 0
            if values.ndim != 1 or not integral:
                raise ValueError(
                    f"task.{name}: expected a 1-D array of integer class indices, got shape "
                    f"{values.shape} and dtype {values.dtype}"
                )
            classes[name] = values.astype(np.int64)
        seen, unseen = classes["seen_classes"], classes["unseen_classes"]
        if seen.size == 0:
            raise ValueError("task.seen_classes: expected at least one seen class, got none")
        n_classes, n_task_classes = attributes.shape[1], seen.size + unseen.size
        if n_classes != n_task_classes:
            transposed = attributes.shape[0] == n_task_classes
            raise ValueError(
                f"task.class_attributes: expected (m, {n_task_classes}), one column per class "
                f"({seen.size} seen + {unseen.size} unseen), got shape {attributes.shape}"
                + (" -- transposed?" if transposed else "")
            )
        for name, values in classes.items():
            if values.size and (values.min() < 0 or values.max() >= n_classes):
                raise ValueError(
                    f"task.{name}: expected indices in [0, {n_classes}) (C = columns of "
                    f"task.class_attributes), got values in [{values.min()}, {values.max()}]"
                )
        if np.union1d(seen, unseen).size != n_classes:
            raise ValueError(
                "task.seen_classes and task.unseen_classes: expected each class index in "
                f"[0, {n_classes}) exactly once across the two, got duplicates or overlap"
            )
        not_seen = np.setdiff1d(labels, seen)
        if not_seen.size:
            raise ValueError(
                f"task.labels: expected only seen classes {np.sort(seen)}, got labels {not_seen} as well"
            )
        features = np.asarray(features, dtype=np.float32)
        attributes = np.asarray(attributes, dtype=np.float64)
        if not (np.isfinite(features).all() and np.isfinite(attributes).all()):
            raise ValueError("task.features / task.class_attributes: expected finite values, got NaN or inf")
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))
        object.__setattr__(self, "class_attributes", attributes)
        object.__setattr__(self, "seen_classes", seen)
        object.__setattr__(self, "unseen_classes", unseen)

    @property
    def n_classes(self) -> int:
        return int(self.class_attributes.shape[1])

    @property
    def seen_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_classes, dtype=bool)
        mask[self.seen_classes] = True
        return mask


class ZeroShotMethod(Protocol):
    def fit(self, task: ZeroShotTask, monitor: Monitor | None = None) -> ZeroShotMethod: ...

    def decision_function(self, features: np.ndarray) -> np.ndarray: ...
