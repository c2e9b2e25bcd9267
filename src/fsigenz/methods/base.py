"""What every zero-shot method is trained on and how it answers.

A :class:`ZeroShotTask` is the method-facing view of a dataset: training images (all of seen
classes), and the attribute vector of every class the method must score (seen and unseen). The same
shape serves model selection (train classes seen, val classes playing unseen) and the final fit
(trainval seen, test classes unseen), so one code path handles both.

A method follows the scikit-learn shape: hyperparameters in ``__init__``, ``fit(task)`` learns,
``decision_function(features)`` returns an (N, C) score matrix over the task's classes (higher is
more likely). Iterative methods accept a ``monitor``: a callable ``monitor(step, method) -> float``
called every ``eval_every`` steps, used for early stopping on validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

Monitor = Callable[[int, "ZeroShotMethod"], float]


@dataclass(frozen=True)
class ZeroShotTask:
    """Training view of a zero-shot problem.

    - ``features``: (N, d) float32 training features, all from seen classes.
    - ``labels``: (N,) int64 index into the task's C classes.
    - ``class_attributes``: (m, C) attributes of every class of the task [A_o].
    - ``seen_classes`` / ``unseen_classes``: task class indices [S] / [U].
    """

    features: np.ndarray
    labels: np.ndarray
    class_attributes: np.ndarray
    seen_classes: np.ndarray
    unseen_classes: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.class_attributes.shape[1])

    @property
    def seen_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_classes, dtype=bool)
        mask[self.seen_classes] = True
        return mask


class ZeroShotMethod(Protocol):
    def fit(self, task: ZeroShotTask, monitor: Monitor | None = None) -> "ZeroShotMethod": ...

    def decision_function(self, features: np.ndarray) -> np.ndarray: ...
