"""The test split scored once by a trained model, and everything the evaluation reports from it.

Scoring is the costly part of an evaluation (SUN: 4 020 images × 717 classes); the summary metrics,
the seen-unseen curve and the per-class tables are all read from the same two score matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fsigenz.evaluation.metrics import SeenUnseenCurve, seen_unseen_curve, zsl_report
from fsigenz.evaluation.per_class import confused_pairs, unseen_class_accuracy


@dataclass(frozen=True)
class ScoredSplit:
    """Scores (N, C) over every class of the unseen- and seen-class test images, with their labels.

    ``calibration_gamma``: the calibrated-stacking γ chosen on validation; ``scoring_seconds``: how long
    the model took to score both sets.
    """

    scores_unseen: np.ndarray
    labels_unseen: np.ndarray
    scores_seen: np.ndarray
    labels_seen: np.ndarray
    seen_mask: np.ndarray
    class_names: tuple[str, ...]
    calibration_gamma: float = 0.0
    scoring_seconds: float = 0.0

    @property
    def unseen_classes(self) -> np.ndarray:
        return np.flatnonzero(~np.asarray(self.seen_mask, dtype=bool))

    def curve(self) -> SeenUnseenCurve:
        """U and S for every γ (:func:`~fsigenz.evaluation.metrics.seen_unseen_curve`)."""
        return seen_unseen_curve(
            self.scores_unseen, self.labels_unseen, self.scores_seen, self.labels_seen, self.seen_mask
        )

    def report(self) -> dict[str, float]:
        """CZSL, U / S / H without and with calibrated stacking, and AUSUC (all in %)."""
        report = zsl_report(
            self.scores_unseen,
            self.labels_unseen,
            self.scores_seen,
            self.labels_seen,
            self.seen_mask,
            self.unseen_classes,
            self.calibration_gamma,
        )
        return {**report, "ausuc": self.curve().area}

    def unseen_class_accuracy(self) -> pd.DataFrame:
        """Per unseen class: CZSL, GZSL and calibrated GZSL accuracy, and its most frequent mistake."""
        return unseen_class_accuracy(
            self.scores_unseen, self.labels_unseen, self.seen_mask, self.class_names, self.calibration_gamma
        )

    def confused_pairs(self, top_k: int = 20) -> pd.DataFrame:
        """The ``top_k`` (true, predicted) class pairs with the largest share of the true class's images."""
        return confused_pairs(
            self.scores_unseen,
            self.labels_unseen,
            self.scores_seen,
            self.labels_seen,
            self.seen_mask,
            self.class_names,
            self.calibration_gamma,
            top_k,
        )
