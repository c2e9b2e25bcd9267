"""Model selection on validation and the final test, one code path for every method.

Two views of a :class:`~fsigenz.data.dataset.ZeroShotDataset`:

- the **validation protocol**: the train classes are seen, the val classes play unseen. Training
  uses the train-class images minus a per-class hold-out (``seen_holdout_fraction``) that serves as
  "validation seen"; the val-class images are "validation unseen". The test classes and the test
  images take no part.
- the **test protocol**: all trainval images train, the test classes are unseen; test_seen and
  test_unseen are evaluated once.

:func:`select_model` tries each setting of a (small) grid on the validation protocol, follows each
iterative method's validation curve (early stopping), picks the best setting and step count, and
chooses the calibrated-stacking γ on the validation scores of that choice. The test split never
chooses anything. A choice on the smallest or largest value of a numeric grid is logged as a warning
naming the parameter (the optimum may lie beyond the grid) and recorded in ``on_grid_edge``.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.evaluation.metrics import choose_calibration, zsl_report
from fsigenz.methods.base import ZeroShotMethod, ZeroShotTask
from fsigenz.progress import stage_scope, training_stage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZeroShotProtocol:
    """A training task plus the labelled sets it is evaluated on (labels are task class indices)."""

    task: ZeroShotTask
    unseen_features: np.ndarray
    unseen_labels: np.ndarray
    seen_features: np.ndarray
    seen_labels: np.ndarray
    dataset_classes: np.ndarray  # task class index -> dataset class index

    def evaluate(self, method: ZeroShotMethod, gamma: float | None = None) -> dict[str, float]:
        scores_unseen, scores_seen = self.scores(method)
        return self.report(scores_unseen, scores_seen, gamma)

    def scores(self, method: ZeroShotMethod) -> tuple[np.ndarray, np.ndarray]:
        return method.decision_function(self.unseen_features), method.decision_function(self.seen_features)

    def report(
        self, scores_unseen: np.ndarray, scores_seen: np.ndarray, gamma: float | None = None
    ) -> dict[str, float]:
        return zsl_report(
            scores_unseen,
            self.unseen_labels,
            scores_seen,
            self.seen_labels,
            self.task.seen_mask,
            self.task.unseen_classes,
            gamma,
        )

    def calibrate(self, scores_unseen: np.ndarray, scores_seen: np.ndarray) -> float:
        gamma, _ = choose_calibration(
            scores_unseen, self.unseen_labels, scores_seen, self.seen_labels, self.task.seen_mask
        )
        return gamma


def _protocol(
    dataset: ZeroShotDataset,
    classes: np.ndarray,
    unseen_classes: np.ndarray,
    train_rows: np.ndarray,
    seen_eval_rows: np.ndarray,
    unseen_eval_rows: np.ndarray,
) -> ZeroShotProtocol:
    classes = np.sort(np.asarray(classes))
    to_task = np.full(dataset.n_classes, -1)
    to_task[classes] = np.arange(classes.size)
    unseen_task = to_task[np.sort(unseen_classes)]
    seen_task = np.setdiff1d(np.arange(classes.size), unseen_task)
    task = ZeroShotTask(
        features=dataset.features[train_rows],
        labels=to_task[dataset.labels[train_rows]],
        class_attributes=dataset.class_attributes[:, classes],
        seen_classes=seen_task,
        unseen_classes=unseen_task,
    )
    return ZeroShotProtocol(
        task=task,
        unseen_features=dataset.features[unseen_eval_rows],
        unseen_labels=to_task[dataset.labels[unseen_eval_rows]],
        seen_features=dataset.features[seen_eval_rows],
        seen_labels=to_task[dataset.labels[seen_eval_rows]],
        dataset_classes=classes,
    )


def final_protocol(dataset: ZeroShotDataset) -> ZeroShotProtocol:
    """Train on trainval with every class; evaluate on test_seen and test_unseen."""
    split = dataset.splits
    return _protocol(
        dataset,
        np.arange(dataset.n_classes),
        dataset.unseen_classes,
        split["trainval"],
        split["test_seen"],
        split["test_unseen"],
    )


def validation_protocol(
    dataset: ZeroShotDataset, seen_holdout_fraction: float = 0.2, seed: int = 0
) -> ZeroShotProtocol:
    """Train classes seen, val classes unseen; a per-class hold-out of train images is "val seen"."""
    if not 0 < seen_holdout_fraction < 1:
        raise ValueError(
            f"selection: field 'seen_holdout_fraction': expected in (0, 1), got {seen_holdout_fraction}"
        )
    rng = np.random.default_rng(seed)
    train_rows = dataset.splits["train"]
    # a random key per row, ranked within each class: the lowest fraction of each class is held out
    keys = rng.random(train_rows.size)
    labels = dataset.labels[train_rows]
    order = np.lexsort((keys, labels))
    ranks = np.empty_like(order)
    ranks[order] = np.arange(order.size)
    first_of_class = np.searchsorted(labels[order], labels)
    counts = np.bincount(labels, minlength=dataset.n_classes)[labels]
    rank_in_class = ranks - first_of_class
    held_out = rank_in_class < np.maximum(1, np.floor(seen_holdout_fraction * counts)).astype(int)
    held_out &= counts > 1  # a class with one image keeps it for training
    val_classes = dataset.val_classes
    classes = np.union1d(dataset.train_classes, val_classes)
    return _protocol(
        dataset, classes, val_classes, train_rows[~held_out], train_rows[held_out], dataset.splits["val"]
    )


# ---------------------------------------------------------------------------------- selection
def set_nested(params: dict, dotted_key: str, value: Any) -> dict:
    """Copy of ``params`` with ``a.b.c`` set to ``value`` (creating levels as needed)."""
    out = copy.deepcopy(params)
    node = out
    *parents, leaf = dotted_key.split(".")
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"selection grid: '{dotted_key}' goes through the non-dict parameter '{key}'")
    node[leaf] = value
    return out


def grid_settings(grid: dict[str, list] | None) -> list[dict[str, Any]]:
    """Cartesian product of a ``{dotted.parameter: [values]}`` grid (one empty setting if none)."""
    if not grid:
        return [{}]
    keys = sorted(grid)
    for key in keys:
        if not isinstance(grid[key], (list, tuple)) or len(grid[key]) == 0:
            raise ValueError(f"selection grid: '{key}' must map to a non-empty list, got {grid[key]!r}")
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def edge_selections(grid: dict[str, list] | None, setting: dict[str, Any]) -> list[str]:
    """The keys of ``setting`` whose value is the smallest or largest of a numeric grid of 3+ values.

    Such a choice may be bounded by the grid rather than by the data: the optimum may lie beyond it.
    """
    edges = []
    for key, value in setting.items():
        values = list((grid or {}).get(key) or [])
        numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numeric) < 3 or len(numeric) != len(values) or isinstance(value, bool):
            continue
        if value in (min(numeric), max(numeric)):
            edges.append(key)
    return sorted(edges)


def warn_about_grid_edges(grid: dict[str, list] | None, setting: dict[str, Any]) -> list[str]:
    """Log a warning for every parameter chosen on an edge of its grid; return their keys."""
    edges = edge_selections(grid, setting)
    for key in edges:
        values = sorted(grid[key])
        side = "largest" if setting[key] == values[-1] else "smallest"
        logger.warning(
            "selection grid: '%s' chose %s, the %s value of its grid [%s .. %s]; the best value may lie "
            "beyond it (widen model.selection.grids)",
            key,
            setting[key],
            side,
            values[0],
            values[-1],
        )
    return edges


@dataclass
class SelectionResult:
    setting: dict[str, Any]
    best_step: int | None
    gamma: float
    validation_metrics: dict[str, float]
    curves: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    on_grid_edge: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "on_grid_edge": self.on_grid_edge,
            "best_step": self.best_step,
            "gamma": self.gamma,
            "validation_metrics": self.validation_metrics,
            "curves": self.curves,
            "seconds": self.seconds,
        }


def select_model(
    protocol: ZeroShotProtocol,
    build_method: Callable[[dict], ZeroShotMethod],
    base_params: dict,
    grid: dict[str, list] | None = None,
    metric: str = "gzsl_h",
) -> SelectionResult:
    """Pick the grid setting and step count that maximise ``metric`` on the validation protocol.

    ``metric`` is one of the report's keys; a ``*_cs`` metric chooses γ at every evaluation.
    """
    started = time.perf_counter()
    needs_gamma = metric.endswith("_cs")
    best: dict[str, Any] = {"value": -np.inf}
    curves = []
    settings = grid_settings(grid)
    with contextlib.ExitStack() as grid_stage:  # several settings: the grid is a stage of its own
        grid_progress = None
        if len(settings) > 1:
            grid_progress = grid_stage.enter_context(training_stage("grid", len(settings)))
        for index, setting in enumerate(settings, 1):
            params = base_params
            for key, value in setting.items():
                params = set_nested(params, key, value)
            curve: list[dict[str, Any]] = []

            def monitor(step: int, method: ZeroShotMethod, _setting=setting, _curve=curve) -> float:
                scores_unseen, scores_seen = protocol.scores(method)
                gamma = protocol.calibrate(scores_unseen, scores_seen) if needs_gamma else None
                report = protocol.report(scores_unseen, scores_seen, gamma)
                if metric not in report:
                    raise ValueError(f"selection: field 'metric': '{metric}' is not one of {sorted(report)}")
                _curve.append({"step": int(step), **report})
                if report[metric] > best["value"]:
                    best.update(
                        value=report[metric],
                        setting=_setting,
                        step=int(step),
                        scores=(scores_unseen, scores_seen),
                    )
                return report[metric]

            method = build_method(params)
            # with several settings, each one's training is a stage of its own (setting_2.scc, ...)
            scope = stage_scope(f"setting_{index}") if len(settings) > 1 else contextlib.nullcontext()
            with scope:
                method.fit(protocol.task, monitor=monitor)
            if not curve:  # a method that never calls the monitor is evaluated once, after fitting
                monitor(0, method)
            curves.append({"setting": setting, "points": curve})
            if grid_progress is not None:
                grid_progress.step(index)
                grid_progress.evaluation(index, max(point[metric] for point in curve))

    on_grid_edge = warn_about_grid_edges(grid, best["setting"])
    scores_unseen, scores_seen = best["scores"]
    gamma = protocol.calibrate(scores_unseen, scores_seen)
    return SelectionResult(
        setting=best["setting"],
        best_step=best["step"],
        gamma=gamma,
        validation_metrics=protocol.report(scores_unseen, scores_seen, gamma),
        curves=curves,
        seconds=time.perf_counter() - started,
        on_grid_edge=on_grid_edge,
    )
