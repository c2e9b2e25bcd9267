"""The evaluation protocol of Xian et al. ("proposed split"), as in the method notes.

- Accuracy is the per-class mean top-1: mean over classes c of (#correct of c / #samples of c).
- CZSL: argmax over the unseen classes only, on test_unseen.
- GZSL: argmax over all classes; U on test_unseen, S on test_seen, H = 2US / (U + S).
- Calibrated stacking (Chao et al. 2016): subtract γ from the seen-class scores before the argmax;
  γ is chosen on validation, never on test.
- AUSUC (Chao et al. 2016): the area under the seen-unseen accuracy curve that γ traces from −∞ (every
  image predicted seen: U = 0) to +∞ (every image predicted unseen: S = 0). It does not depend on any
  chosen γ, so it compares methods whose score scales differ.

All functions take a score matrix (N, C) over every class (higher = more likely); metrics are
returned in percent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRIC_NAMES = ("czsl_top1", "gzsl_unseen", "gzsl_seen", "gzsl_h")


def per_class_accuracy(true_labels: np.ndarray, predicted_labels: np.ndarray) -> float:
    """Mean over the classes present in ``true_labels`` of their top-1 accuracy, in percent."""
    true_labels = np.asarray(true_labels)
    predicted_labels = np.asarray(predicted_labels)
    if true_labels.shape != predicted_labels.shape or true_labels.ndim != 1:
        raise ValueError(
            f"true_labels and predicted_labels must be 1-D of equal length, got "
            f"{true_labels.shape} and {predicted_labels.shape}"
        )
    if true_labels.size == 0:
        raise ValueError("true_labels is empty: no sample to evaluate")
    classes, class_of_sample = np.unique(true_labels, return_inverse=True)
    correct = np.bincount(class_of_sample, weights=(true_labels == predicted_labels), minlength=classes.size)
    counts = np.bincount(class_of_sample, minlength=classes.size)
    return float(100.0 * np.mean(correct / counts))


def harmonic_mean(unseen: float, seen: float) -> float:
    """H = 2 U S / (U + S); 0 when both are 0."""
    return 0.0 if unseen + seen == 0 else 2.0 * unseen * seen / (unseen + seen)


def _check_scores(scores: np.ndarray, labels: np.ndarray, name: str) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] != np.asarray(labels).shape[0]:
        raise ValueError(
            f"{name}: expected scores of shape (N, C) with N = {np.asarray(labels).shape[0]} labels, "
            f"got {scores.shape}"
        )
    return scores


def czsl_accuracy(scores: np.ndarray, labels: np.ndarray, unseen_classes: np.ndarray) -> float:
    """Conventional ZSL: argmax restricted to the unseen classes (per-class mean top-1, %)."""
    scores = _check_scores(scores, labels, "czsl scores")
    unseen_classes = np.asarray(unseen_classes)
    predicted = unseen_classes[np.argmax(scores[:, unseen_classes], axis=1)]
    return per_class_accuracy(labels, predicted)


def gzsl_predictions(scores: np.ndarray, seen_mask: np.ndarray, gamma: float = 0.0) -> np.ndarray:
    """Argmax over all classes after subtracting ``gamma`` from the seen-class scores."""
    return np.argmax(scores - gamma * np.asarray(seen_mask, dtype=scores.dtype), axis=1)


@dataclass(frozen=True)
class GZSLResult:
    unseen: float
    seen: float
    harmonic: float


def gzsl_accuracy(
    scores_unseen: np.ndarray,
    labels_unseen: np.ndarray,
    scores_seen: np.ndarray,
    labels_seen: np.ndarray,
    seen_mask: np.ndarray,
    gamma: float = 0.0,
) -> GZSLResult:
    """Generalised ZSL: U on unseen-class samples, S on seen-class samples, their H (all in %)."""
    _check_scores(scores_unseen, labels_unseen, "gzsl unseen scores")
    _check_scores(scores_seen, labels_seen, "gzsl seen scores")
    unseen = per_class_accuracy(labels_unseen, gzsl_predictions(scores_unseen, seen_mask, gamma))
    seen = per_class_accuracy(labels_seen, gzsl_predictions(scores_seen, seen_mask, gamma))
    return GZSLResult(unseen, seen, harmonic_mean(unseen, seen))


def calibration_grid(scores: np.ndarray, seen_mask: np.ndarray, n_values: int = 101) -> np.ndarray:
    """Candidate γ values spanning the range where the seen/unseen decision can change.

    γ = max_seen − max_unseen flips a sample between a seen and an unseen prediction; the grid
    covers 0 plus the quantiles of that gap, so it adapts to the score scale of any method.
    """
    scores = np.asarray(scores)
    seen_mask = np.asarray(seen_mask, dtype=bool)
    gap = scores[:, seen_mask].max(axis=1) - scores[:, ~seen_mask].max(axis=1)
    quantiles = np.quantile(gap, np.linspace(0.0, 1.0, n_values))
    return np.unique(np.concatenate([[0.0], quantiles + 1e-6]))


def choose_calibration(
    scores_unseen: np.ndarray,
    labels_unseen: np.ndarray,
    scores_seen: np.ndarray,
    labels_seen: np.ndarray,
    seen_mask: np.ndarray,
    n_values: int = 101,
) -> tuple[float, GZSLResult]:
    """γ that maximises H on the given (validation) scores, and the result it gives."""
    both = np.concatenate([scores_unseen, scores_seen], axis=0)
    best_gamma, best = (
        0.0,
        gzsl_accuracy(scores_unseen, labels_unseen, scores_seen, labels_seen, seen_mask, 0.0),
    )
    for gamma in calibration_grid(both, seen_mask, n_values):
        result = gzsl_accuracy(
            scores_unseen, labels_unseen, scores_seen, labels_seen, seen_mask, float(gamma)
        )
        if result.harmonic > best.harmonic:
            best_gamma, best = float(gamma), result
    return best_gamma, best


def zsl_report(
    scores_unseen: np.ndarray,
    labels_unseen: np.ndarray,
    scores_seen: np.ndarray,
    labels_seen: np.ndarray,
    seen_mask: np.ndarray,
    unseen_classes: np.ndarray,
    gamma: float | None = None,
) -> dict[str, float]:
    """The project's metric set: CZSL, GZSL U/S/H, and with calibrated stacking when γ is given."""
    gzsl = gzsl_accuracy(scores_unseen, labels_unseen, scores_seen, labels_seen, seen_mask)
    report = {
        "czsl_top1": czsl_accuracy(scores_unseen, labels_unseen, unseen_classes),
        "gzsl_unseen": gzsl.unseen,
        "gzsl_seen": gzsl.seen,
        "gzsl_h": gzsl.harmonic,
    }
    if gamma is not None:
        calibrated = gzsl_accuracy(scores_unseen, labels_unseen, scores_seen, labels_seen, seen_mask, gamma)
        report.update(
            gzsl_unseen_cs=calibrated.unseen,
            gzsl_seen_cs=calibrated.seen,
            gzsl_h_cs=calibrated.harmonic,
            calibration_gamma=float(gamma),
        )
    return report


# ------------------------------------------------------------------ seen-unseen accuracy curve
@dataclass(frozen=True)
class SeenUnseenCurve:
    """The GZSL accuracies every calibration γ gives, in order of increasing γ (all in %).

    Point k holds for every γ in the open interval ``(breakpoints[k - 1], breakpoints[k])`` (with
    ``breakpoints[-1] = −∞`` and ``breakpoints[K] = +∞``); ``gammas[k]`` is one γ inside it (the
    midpoint, ±∞ at the ends). The first point is U = 0 (all predicted seen), the last S = 0.
    """

    gammas: np.ndarray
    unseen: np.ndarray
    seen: np.ndarray
    breakpoints: np.ndarray

    @property
    def harmonic(self) -> np.ndarray:
        """H at every point."""
        total = self.unseen + self.seen
        return np.divide(2.0 * self.unseen * self.seen, total, out=np.zeros_like(total), where=total > 0)

    @property
    def area(self) -> float:
        """AUSUC: the trapezoidal area under S as a function of U, accuracies as fractions, × 100.

        100 is a perfect classifier; a model that scores every class the same gets 0. Chao et al.
        (2016) report the area with both accuracies in [0, 1]: divide by 100 to compare.
        """
        return float(np.trapezoid(self.seen / 100.0, self.unseen / 100.0) * 100.0)


def _sample_weights(labels: np.ndarray) -> np.ndarray:
    """Weight of each sample in the per-class mean accuracy (in %):
    100 / (#classes · #images of its class)."""
    _, class_of_sample, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return 100.0 / (counts.size * counts[class_of_sample])


def _decision_flips(scores: np.ndarray, labels: np.ndarray, seen_mask: np.ndarray):
    """Per sample: the γ above which its prediction moves from the best seen to the best unseen class,
    and whether each of those two predictions is right."""
    seen_columns, unseen_columns = np.flatnonzero(seen_mask), np.flatnonzero(~seen_mask)
    best_seen = seen_columns[np.argmax(scores[:, seen_columns], axis=1)]
    best_unseen = unseen_columns[np.argmax(scores[:, unseen_columns], axis=1)]
    rows = np.arange(scores.shape[0])
    flip_at = scores[rows, best_seen] - scores[rows, best_unseen]
    return flip_at, best_seen == labels, best_unseen == labels


def seen_unseen_curve(
    scores_unseen: np.ndarray,
    labels_unseen: np.ndarray,
    scores_seen: np.ndarray,
    labels_seen: np.ndarray,
    seen_mask: np.ndarray,
) -> SeenUnseenCurve:
    """U and S for every γ of calibrated stacking, exactly: one point per interval between the γ values
    where some image's prediction changes (Chao et al. 2016).

    Subtracting γ from the seen scores never reorders seen classes among themselves nor unseen among
    themselves, so each image's prediction is its best seen class below one γ (the gap between its best
    seen and best unseen score) and its best unseen class above it. The sweep therefore needs one sort
    of those gaps, not a grid.
    """
    scores_unseen = _check_scores(scores_unseen, labels_unseen, "seen-unseen curve: unseen scores")
    scores_seen = _check_scores(scores_seen, labels_seen, "seen-unseen curve: seen scores")
    seen_mask = np.asarray(seen_mask, dtype=bool)
    if (
        seen_mask.ndim != 1
        or seen_mask.size != scores_unseen.shape[1]
        or scores_seen.shape[1] != seen_mask.size
    ):
        raise ValueError(
            f"seen_mask: expected one flag per score column ({scores_unseen.shape[1]}), "
            f"got shape {seen_mask.shape}"
        )
    if seen_mask.all() or not seen_mask.any():
        raise ValueError("seen_mask: expected both seen and unseen classes, got only one kind")
    for name, scores in (("unseen", scores_unseen), ("seen", scores_seen)):
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"seen-unseen curve: {name} scores contain NaN or infinite values")
    flips_u, below_u, above_u = _decision_flips(scores_unseen, np.asarray(labels_unseen), seen_mask)
    flips_s, below_s, above_s = _decision_flips(scores_seen, np.asarray(labels_seen), seen_mask)
    breakpoints = np.unique(np.concatenate([flips_u, flips_s]))

    def accuracy_after_each_breakpoint(flips, below, above, weights):
        # point 0: γ below every breakpoint; point k: γ just above breakpoint k - 1
        change = weights * (above.astype(float) - below.astype(float))
        per_breakpoint = np.bincount(
            np.searchsorted(breakpoints, flips), weights=change, minlength=breakpoints.size
        )
        return float(np.sum(weights * below)) + np.concatenate([[0.0], np.cumsum(per_breakpoint)])

    unseen = accuracy_after_each_breakpoint(flips_u, below_u, above_u, _sample_weights(labels_unseen))
    seen = accuracy_after_each_breakpoint(flips_s, below_s, above_s, _sample_weights(labels_seen))
    gammas = np.concatenate([[-np.inf], (breakpoints[:-1] + breakpoints[1:]) / 2.0, [np.inf]])
    # rounding of the cumulative sums: keep the values inside [0, 100]
    return SeenUnseenCurve(gammas, np.clip(unseen, 0.0, 100.0), np.clip(seen, 0.0, 100.0), breakpoints)


def ausuc(
    scores_unseen: np.ndarray,
    labels_unseen: np.ndarray,
    scores_seen: np.ndarray,
    labels_seen: np.ndarray,
    seen_mask: np.ndarray,
) -> float:
    """Area under the seen-unseen accuracy curve (Chao et al. 2016), × 100: see :class:`SeenUnseenCurve`."""
    return seen_unseen_curve(scores_unseen, labels_unseen, scores_seen, labels_seen, seen_mask).area
