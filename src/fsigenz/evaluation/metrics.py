"""The evaluation protocol of Xian et al. ("proposed split"), as in the method notes.

- Accuracy is the per-class mean top-1: mean over classes c of (#correct of c / #samples of c).
- CZSL: argmax over the unseen classes only, on test_unseen.
- GZSL: argmax over all classes; U on test_unseen, S on test_seen, H = 2US / (U + S).
- Calibrated stacking (Chao et al. 2016): subtract γ from the seen-class scores before the argmax;
  γ is chosen on validation, never on test.

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
    best_gamma, best = 0.0, gzsl_accuracy(scores_unseen, labels_unseen, scores_seen, labels_seen, seen_mask, 0.0)
    for gamma in calibration_grid(both, seen_mask, n_values):
        result = gzsl_accuracy(scores_unseen, labels_unseen, scores_seen, labels_seen, seen_mask, float(gamma))
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
