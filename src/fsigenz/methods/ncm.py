"""Nearest-class-mean baseline: what FSIGenZ's prototypes achieve without the SCC.

A seen class is represented by its centred class mean, an unseen class u by its prototypes
μ_u,1..P (method notes "Phase 1b", same MSAS-adjusted attributes and generator as FSIGenZ). The
score of sample x for a seen class c is sim(x, m_c); for an unseen class it aggregates
sim(x, μ_u,k) over its P prototypes (max, or mean).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from fsigenz.methods.base import Monitor, ZeroShotTask
from fsigenz.methods.fsigenz import constructor_defaults, fit_prototype_phase, merge_settings
from fsigenz.methods.msas import MSAS
from fsigenz.methods.prototypes import PrototypeGenerator

METRICS = ("cosine", "euclidean")
AGGREGATES = ("max", "mean")


def _similarities(features: np.ndarray, references: np.ndarray, metric: str) -> np.ndarray:
    """(N, R): cosine similarity, or negative squared Euclidean distance, of rows to references."""
    if metric == "cosine":
        tiny = np.finfo(np.float64).tiny
        features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), tiny)
        reference_norms = np.linalg.norm(references, axis=1, keepdims=True)
        references = references / np.maximum(reference_norms, tiny)
        return features @ references.T
    squared = (
        (features**2).sum(axis=1, keepdims=True)
        - 2.0 * features @ references.T
        + (references**2).sum(axis=1)[None, :]
    )
    return -squared


class NearestClassMeanClassifier:
    """Score each class by similarity to its mean (seen) or its prototypes (unseen).

    Parameters
    ----------
    prototypes, msas:
        Settings of :class:`~fsigenz.methods.prototypes.PrototypeGenerator` (``n_prototypes`` >= 1)
        and :class:`~fsigenz.methods.msas.MSAS`, as for :class:`FSIGenZClassifier`.
    metric:
        ``"cosine"`` (default) or ``"euclidean"`` (score = −squared distance).
    aggregate:
        How an unseen class combines its prototypes' similarities: ``"max"`` (default) or
        ``"mean"``.
    l2_normalize:
        L2-normalise features after centring.

    Fitted attributes
    -----------------
    centering_, msas_, adjusted_attributes_, class_means_ (K, d) in ``seen_classes_`` order,
    prototypes_ (L, P, d) in ``unseen_classes_`` order, prototype_lambdas_.
    """

    def __init__(
        self,
        prototypes: Mapping[str, Any] | None = None,
        msas: Mapping[str, Any] | None = None,
        metric: str = "cosine",
        aggregate: str = "max",
        l2_normalize: bool = False,
    ) -> None:
        self.prototypes = prototypes
        self.msas = msas
        self.metric = metric
        self.aggregate = aggregate
        self.l2_normalize = l2_normalize

    @property
    def n_synthetic_per_class(self) -> int:
        """P, the prototypes per unseen class (fitted value when available)."""
        if hasattr(self, "prototypes_"):
            return int(self.prototypes_.shape[1])
        return int(merge_settings("prototypes", self.prototypes, constructor_defaults(PrototypeGenerator))["n_prototypes"])

    def fit(
        self,
        task: ZeroShotTask,
        monitor: Monitor | None = None,
        prototypes: np.ndarray | None = None,
    ) -> "NearestClassMeanClassifier":
        """Class means of the seen classes and prototypes of the unseen ones.

        ``monitor`` is accepted for the common protocol and unused (nothing iterative).
        ``prototypes``: optional (L, P, d) centred prototypes replacing the generated ones.
        """
        if self.metric not in METRICS:
            raise ValueError(f"metric: expected one of {METRICS}, got {self.metric!r}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate: expected one of {AGGREGATES}, got {self.aggregate!r}")
        prototype_settings = merge_settings(
            "prototypes", self.prototypes, constructor_defaults(PrototypeGenerator)
        )
        if prototypes is None and len(task.unseen_classes) > 0 and prototype_settings["n_prototypes"] < 1:
            raise ValueError(
                "prototypes.n_prototypes: the nearest-class-mean baseline needs at least one "
                f"prototype per unseen class, got {prototype_settings['n_prototypes']}"
            )
        phase = fit_prototype_phase(
            task,
            merge_settings("msas", self.msas, constructor_defaults(MSAS)),
            prototype_settings,
            self.l2_normalize,
            prototypes,
        )
        self.seen_classes_, self.unseen_classes_ = phase.seen_classes, phase.unseen_classes
        self.n_classes_ = task.n_classes
        self.centering_, self.msas_ = phase.centering, phase.msas
        self.adjusted_attributes_ = phase.adjusted_attributes
        self.class_means_ = phase.generator.class_means_
        self.prototypes_, self.prototype_lambdas_ = phase.prototypes, phase.prototype_lambdas
        return self

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Scores (N, C): similarity to the class mean (seen) or to the prototypes (unseen)."""
        if not hasattr(self, "class_means_"):
            raise RuntimeError("NearestClassMeanClassifier.decision_function called before fit")
        features = self.centering_.transform(features).astype(np.float64)
        scores = np.empty((features.shape[0], self.n_classes_), dtype=np.float32)
        scores[:, self.seen_classes_] = _similarities(features, self.class_means_, self.metric)
        n_unseen, n_per_class, dim = self.prototypes_.shape
        if n_unseen:
            per_prototype = _similarities(
                features, self.prototypes_.reshape(-1, dim).astype(np.float64), self.metric
            ).reshape(features.shape[0], n_unseen, n_per_class)
            combine = np.max if self.aggregate == "max" else np.mean
            scores[:, self.unseen_classes_] = combine(per_prototype, axis=2)
        return scores
