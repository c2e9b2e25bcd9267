"""Early stopping on a validation monitor: one helper, one contract, for every iterative method.

The contract (see :data:`~fsigenz.methods.base.Monitor`): ``monitor(step, method)`` is called every
``eval_every`` steps and after the last step — and at step 0, before training, by a method that
starts from a usable model (the anchored SCC starts as its prototypes' scorer); it returns a number
(higher is better) or anything else (e.g. ``None``), which is recorded but neither improves nor counts
against ``patience``.
A value improves when it is finite and larger than every earlier finite value.

Every iterative method exposes the same fitted attributes: ``monitor_history_`` (list of
``(step, value)`` exactly as returned), ``best_step_`` / ``best_score_`` (``None`` without a
numeric value), and ``loss_history_``, a :data:`LossHistory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Per-step training losses by name; MONITORED_LOSS is the loss of the training stage whose steps
# the monitor counts (the one early stopping shortens).
LossHistory = dict[str, np.ndarray]
MONITORED_LOSS = "classifier"


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite number (a monitor value that can improve)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


@dataclass
class EarlyStopping:
    """Bookkeeping of the monitor calls of one training run of ``total_steps`` steps.

    ``due(step)`` says whether the monitor is called after ``step`` (1-based); ``record(step,
    value)`` keeps the value and returns whether it improved; ``should_stop`` turns true after
    ``patience`` numeric values in a row without improvement (never with ``patience=None``).
    """

    eval_every: int
    total_steps: int
    patience: int | None = None
    history: list[tuple[int, Any]] = field(default_factory=list)
    best_step: int | None = None
    best_score: float | None = None
    _without_improvement: int = 0

    def due(self, step: int) -> bool:
        return step % self.eval_every == 0 or step == self.total_steps

    def record(self, step: int, value: Any) -> bool:
        self.history.append((step, value))
        if not is_number(value):
            return False
        if self.best_score is None or float(value) > self.best_score:
            self.best_score, self.best_step = float(value), step
            self._without_improvement = 0
            return True
        self._without_improvement += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self._without_improvement >= self.patience
