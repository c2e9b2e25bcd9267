"""Feature preprocessing shared by every method (method notes: "Preprocessing and training length").

Features are centred on the training mean, and optionally L2-normalised per row. Methods without an
intercept (ESZSL) degrade badly on uncentred features, so every method goes through this one step.
"""

from __future__ import annotations

import numpy as np


class FeatureCentering:
    """Subtract the training mean; optionally L2-normalise each row afterwards.

    ``l2_normalize`` normalises *after* centring, so every preprocessed row has unit norm.
    """

    def __init__(self, l2_normalize: bool = False) -> None:
        self.l2_normalize = l2_normalize

    def fit(self, features: np.ndarray) -> FeatureCentering:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(f"features: expected a non-empty (N, d) matrix, got {features.shape}")
        self.mean_ = features.mean(axis=0, dtype=np.float64).astype(np.float32)
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"features: expected (N, {self.mean_.shape[0]}), got shape {features.shape}")
        out = features - self.mean_
        if self.l2_normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = out / np.maximum(norms, np.finfo(np.float32).tiny)
        return np.ascontiguousarray(out, dtype=np.float32)

    def fit_transform(self, features: np.ndarray) -> np.ndarray:
        return self.fit(features).transform(features)
