"""Scores of samples against class references: seen class means and unseen prototypes.

The nearest-class-mean baseline's decision function, and the "anchor" of FSIGenZ's default
classifier, whose SCC learns a correction on top of these scores (docs/method.md, "The default
classifier"). One implementation, in torch, so that the anchor runs inside the SCC's training
step (on the batch's rows, on any device, inside a CUDA graph); :func:`reference_scores` is its
NumPy face (float64) for the baseline.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

METRICS = ("cosine", "euclidean")
AGGREGATES = ("max", "mean")


class ReferenceScores(nn.Module):
    """``scale`` · score of each row against each class's references, (B, d) → (B, C).

    Seen class c (``seen_classes[k]``) has one reference, ``class_means[k]``; unseen class u
    (``unseen_classes[l]``) has P, ``prototypes[l]``, whose scores are combined by ``aggregate``
    (max or mean). The score is the cosine similarity, or the negative squared Euclidean distance.
    """

    def __init__(
        self,
        class_means: np.ndarray,
        seen_classes: np.ndarray,
        prototypes: np.ndarray,
        unseen_classes: np.ndarray,
        metric: str = "cosine",
        aggregate: str = "max",
        scale: float = 1.0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"metric: expected one of {list(METRICS)}, got {metric!r}")
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate: expected one of {list(AGGREGATES)}, got {aggregate!r}")
        prototypes = np.asarray(prototypes)
        self.metric, self.aggregate, self.scale = metric, aggregate, float(scale)
        self.n_classes = len(seen_classes) + len(unseen_classes)
        self.n_unseen, self.n_per_class = prototypes.shape[0], prototypes.shape[1]
        means = torch.as_tensor(np.asarray(class_means), dtype=dtype)
        flat = torch.as_tensor(prototypes.reshape(-1, prototypes.shape[2]), dtype=dtype)
        if metric == "cosine":  # normalised once: a cosine is then one GEMM
            means, flat = _unit_rows(means), _unit_rows(flat)
        self.register_buffer("class_means", means)
        self.register_buffer("prototypes", flat)
        self.register_buffer("seen_classes", torch.as_tensor(np.asarray(seen_classes), dtype=torch.int64))
        self.register_buffer("unseen_classes", torch.as_tensor(np.asarray(unseen_classes), dtype=torch.int64))

    def _scores(self, rows: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        if self.metric == "cosine":
            return _unit_rows(rows) @ references.T
        return -torch.cdist(rows, references).square()

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        # in the buffers' precision even inside the SCC's bf16 autocast: the anchor is a few GEMMs, and a
        # bf16 cosine would round the scores that the SCC only corrects
        with torch.autocast(device_type=rows.device.type, enabled=False):
            return self._forward(rows.to(self.class_means.dtype))

    def _forward(self, rows: torch.Tensor) -> torch.Tensor:
        scores = rows.new_zeros((rows.shape[0], self.n_classes))
        scores[:, self.seen_classes] = self._scores(rows, self.class_means)
        if self.n_unseen and self.n_per_class:
            per_prototype = self._scores(rows, self.prototypes).view(
                rows.shape[0], self.n_unseen, self.n_per_class
            )
            combined = per_prototype.amax(dim=2) if self.aggregate == "max" else per_prototype.mean(dim=2)
            scores[:, self.unseen_classes] = combined
        return self.scale * scores


def _unit_rows(rows: torch.Tensor) -> torch.Tensor:
    return rows / rows.norm(dim=1, keepdim=True).clamp_min(torch.finfo(rows.dtype).tiny)


def reference_scores(
    features: np.ndarray,
    class_means: np.ndarray,
    seen_classes: np.ndarray,
    prototypes: np.ndarray,
    unseen_classes: np.ndarray,
    metric: str = "cosine",
    aggregate: str = "max",
) -> np.ndarray:
    """(N, C) float32 scores of :class:`ReferenceScores` (scale 1), computed in float64."""
    module = ReferenceScores(
        class_means, seen_classes, prototypes, unseen_classes, metric, aggregate, dtype=torch.float64
    )
    with torch.inference_mode():
        return module(torch.as_tensor(np.asarray(features), dtype=torch.float64)).numpy().astype(np.float32)
