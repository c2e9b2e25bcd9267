"""ESZSL — "An embarrassingly simple approach to zero-shot learning" (Romera-Paredes & Torr, 2015).

Closed form (paper eq. 5), with X the (d × N) training features, Y the (N × K) label matrix with
+1 for the true class and −1 elsewhere, and S the (m × K) seen-class attributes:

    V = (X Xᵀ + γ I)⁻¹ X Y Sᵀ (S Sᵀ + λ I)⁻¹,        score(x, c) = xᵀ V a_c

γ (``feature_regularization``) and λ (``attribute_regularization``) are the two regularisers,
chosen on the validation split. Features are centred first (ESZSL has no intercept).
"""

from __future__ import annotations

import numpy as np

from fsigenz.methods.base import Monitor, ZeroShotTask
from fsigenz.methods.preprocessing import FeatureCentering


class ESZSL:
    """Bilinear compatibility model with the closed-form ESZSL solution."""

    def __init__(
        self,
        feature_regularization: float = 1.0,
        attribute_regularization: float = 1.0,
        l2_normalize: bool = False,
    ) -> None:
        self.feature_regularization = feature_regularization
        self.attribute_regularization = attribute_regularization
        self.l2_normalize = l2_normalize

    @property
    def n_synthetic_per_class(self) -> int:
        return 0

    def fit(self, task: ZeroShotTask, monitor: Monitor | None = None) -> ESZSL:
        self.centering_ = FeatureCentering(self.l2_normalize).fit(task.features)
        x = self.centering_.transform(task.features).astype(np.float64).T  # (d, N)
        seen = np.asarray(task.seen_classes)
        position_in_seen = np.full(task.n_classes, -1)
        position_in_seen[seen] = np.arange(seen.size)
        targets = -np.ones((x.shape[1], seen.size))
        targets[np.arange(x.shape[1]), position_in_seen[task.labels]] = 1.0
        s = np.asarray(task.class_attributes, dtype=np.float64)[:, seen]  # (m, K)
        d, m = x.shape[0], s.shape[0]
        left = np.linalg.solve(x @ x.T + self.feature_regularization * np.eye(d), x @ targets @ s.T)
        self.compatibility_ = np.linalg.solve(
            (s @ s.T + self.attribute_regularization * np.eye(m)).T, left.T
        ).T  # V (d, m), using the symmetry of S Sᵀ + λI
        self.class_attributes_ = np.asarray(task.class_attributes, dtype=np.float64)
        if monitor is not None:
            monitor(0, self)
        return self

    def decision_function(
        self, features: np.ndarray, class_attributes: np.ndarray | None = None
    ) -> np.ndarray:
        attributes = (
            self.class_attributes_
            if class_attributes is None
            else np.asarray(class_attributes, dtype=np.float64)
        )
        if attributes.shape[0] != self.compatibility_.shape[1]:
            raise ValueError(
                f"class_attributes: expected {self.compatibility_.shape[1]} attribute rows, "
                f"got {attributes.shape}"
            )
        x = self.centering_.transform(features)
        return (x @ (self.compatibility_ @ attributes).astype(np.float32)).astype(np.float32)
