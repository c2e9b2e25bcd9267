"""Nearest-class-mean baseline: what FSIGenZ's prototypes achieve without the SCC.

A seen class is represented by its centred class mean, an unseen class u by its prototypes
μ_u,1..P (method notes "Phase 1b", same MSAS-adjusted attributes and generator as FSIGenZ). The
score of sample x for a seen class c is sim(x, m_c); for an unseen class it aggregates
sim(x, μ_u,k) over its P prototypes (max, or mean).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fsigenz.methods.base import Monitor, ZeroShotTask
from fsigenz.methods.fsigenz import constructor_defaults, fit_prototype_phase, merge_settings
from fsigenz.methods.msas import MSAS
from fsigenz.methods.prototype_scores import AGGREGATES, METRICS, reference_scores
from fsigenz.methods.prototypes import PrototypeGenerator


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
        return int(
            merge_settings("prototypes", self.prototypes, constructor_defaults(PrototypeGenerator))[
                "n_prototypes"
            ]
        )

    def fit(
        self,
        task: ZeroShotTask,
        monitor: Monitor | None = None,
        prototypes: np.ndarray | None = None,
    ) -> NearestClassMeanClassifier:
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
        return reference_scores(
            self.centering_.transform(features),
            self.class_means_,
            self.seen_classes_,
            self.prototypes_,
            self.unseen_classes_,
            self.metric,
            self.aggregate,
        )
