"""The trained, shippable classifier: a fitted method plus what it needs to answer for new images."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fsigenz.methods.base import ZeroShotMethod


@dataclass
class ZeroShotClassifier:
    """A fitted zero-shot method over named classes, with its calibrated-stacking γ."""

    method_name: str
    estimator: ZeroShotMethod
    class_names: tuple[str, ...]
    seen_classes: np.ndarray
    unseen_classes: np.ndarray
    calibration_gamma: float = 0.0
    metadata: dict = field(default_factory=dict)

    @property
    def seen_mask(self) -> np.ndarray:
        mask = np.zeros(len(self.class_names), dtype=bool)
        mask[self.seen_classes] = True
        return mask

    def scores(self, features: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """(N, C) class scores; with ``calibrated`` γ is subtracted from the seen classes."""
        scores = self.estimator.decision_function(np.asarray(features, dtype=np.float32))
        if calibrated:
            scores = scores - self.calibration_gamma * self.seen_mask.astype(scores.dtype)
        return scores

    def predict(self, features: np.ndarray, top_k: int = 5, calibrated: bool = True) -> pd.DataFrame:
        """Predicted class, its score and the top-k classes for each row of ``features``."""
        scores = self.scores(features, calibrated)
        k = min(top_k, scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        names = np.asarray(self.class_names, dtype=object)
        return pd.DataFrame(
            {
                "predicted_class": names[top[:, 0]],
                "score": np.take_along_axis(scores, top[:, :1], axis=1)[:, 0],
                "top_k_classes": [list(row) for row in names[top]],
                "top_k_scores": [list(map(float, row)) for row in np.take_along_axis(scores, top, axis=1)],
            }
        )
