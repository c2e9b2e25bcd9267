"""FSIGenZ: MSAS-adjusted attributes, ridge prototypes of unseen classes, SCC trained with DPSR.

The pipeline of the method notes, in order:

1. centre the training features (``FeatureCentering``; optionally L2-normalise them);
2. MSAS adjusts the attributes of every class: A = (A_o + A_o ⊙ 1[A_o > T_h]) · W_A;
3. prototypes μ_u,k = M_s α_k of each unseen class u, one per λ_k, from the centred seen class
   means;
4. DPSR similarity S̃ from A, turned into soft BCE targets;
5. the SCC is trained on real seen features and the prototypes, and scores (sample, class) pairs.

With ``prototypes={"n_prototypes": 0}`` no prototype is generated and the SCC learns from real
samples with similarity targets only: the TCN baseline.

Two presets choose the classifier of step 5 (docs/method.md, "The default classifier"):

- ``anchored`` (the default, not the paper's): the SCC's logits are added to a fixed prior, the
  scaled similarity of the sample to each class's reference (seen class mean, or nearest unseen
  prototype — the nearest-class-mean baseline's score); the SCC starts at zero, so training starts
  from the prototypes and early stopping on validation can only keep what improves on them. It is
  trained with a softmax over all classes against the DPSR targets, on class-balanced batches, and
  each prototype row borrows a real row's offset from its class mean (unseen classes as clouds).
- ``paper``: the SCC alone, grouped BCE over pairs, uniform batches — the method as published.

A preset sets the keys listed in :data:`PRESETS`; settings given explicitly override them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fsigenz.methods.base import Monitor, ZeroShotTask
from fsigenz.methods.early_stopping import LossHistory
from fsigenz.methods.msas import MSAS
from fsigenz.methods.preprocessing import FeatureCentering
from fsigenz.methods.prototype_scores import AGGREGATES, METRICS, ReferenceScores
from fsigenz.methods.prototypes import PrototypeGenerator
from fsigenz.methods.scc import SemanticContrastiveClassifier
from fsigenz.methods.similarity import build_target_tables, class_similarity

DPSR_DEFAULTS: dict[str, Any] = {"enabled": True, "phi": 1.0, "clip": 1e-3}
# The anchor: prior logits = scale · reference_scores(x) (metric, aggregate as the NCM baseline's).
ANCHOR_DEFAULTS: dict[str, Any] = {"enabled": False, "scale": 10.0, "metric": "cosine", "aggregate": "max"}
# What each preset sets (under the user's explicit settings).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "anchored": {
        "anchor": {"enabled": True},
        # a correction of the anchor, so smaller steps than the paper's: chosen on validation
        # (benchmarks/classifier_diagnosis.py; docs/classifier_diagnosis.md)
        "scc": {
            "loss": "softmax",
            "sampling": "class_balanced",
            "prototype_variation": True,
            "learning_rate": 3e-4,
        },
    },
    "paper": {
        "anchor": {"enabled": False},
        "scc": {
            "loss": "grouped_bce",
            "sampling": "uniform",
            "prototype_variation": False,
            "learning_rate": 1e-3,
        },
    },
}
DEFAULT_PRESET = "anchored"


def merge_settings(name: str, given: Mapping[str, Any] | None, allowed: Mapping[str, Any]) -> dict[str, Any]:
    """Merge user settings over defaults, refusing unknown keys with a message naming them."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{name}: unknown setting(s) {unknown}; expected some of {sorted(allowed)}")
    return {**allowed, **given}


def constructor_defaults(estimator_class: type) -> dict[str, Any]:
    import inspect

    signature = inspect.signature(estimator_class.__init__)
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if name != "self" and parameter.default is not inspect.Parameter.empty
    }


@dataclass
class PrototypePhase:
    """Phase 1 fitted on a task (method notes, Phase 1a / 1b), shared by FSIGenZ and the NCM baseline.

    ``features`` are the centred training features and ``labels`` their classes; ``generator`` is
    fitted on the seen classes (its ``class_means_`` are M_sᵀ) and makes prototypes for any class
    later; ``prototypes`` (L, P, d) float32 are those of ``unseen_classes``, in that order, and
    ``prototype_lambdas`` their λ grid (None for prototypes given by the caller).
    """

    seen_classes: np.ndarray
    unseen_classes: np.ndarray
    centering: FeatureCentering
    msas: MSAS
    adjusted_attributes: np.ndarray
    generator: PrototypeGenerator
    prototypes: np.ndarray
    prototype_lambdas: np.ndarray | None
    features: np.ndarray
    labels: np.ndarray


def fit_prototype_phase(
    task: ZeroShotTask,
    msas_settings: Mapping[str, Any],
    prototype_settings: Mapping[str, Any],
    l2_normalize: bool,
    prototypes: np.ndarray | None = None,
) -> PrototypePhase:
    """Centre the features, adjust the attributes (MSAS), fit the prototype generator on the seen
    classes and generate the unseen classes' prototypes — or take ``prototypes`` (L, P, d), centred,
    in ``task.unseen_classes`` order. The generator is fitted even then: it makes prototypes for
    classes added after training. ``n_prototypes: 0`` gives (L, 0, d) prototypes (TCN)."""
    seen = np.asarray(task.seen_classes, dtype=np.int64)
    unseen = np.asarray(task.unseen_classes, dtype=np.int64)
    labels = np.asarray(task.labels, dtype=np.int64)
    centering = FeatureCentering(l2_normalize=l2_normalize)
    features = centering.fit_transform(task.features)
    msas = MSAS(**msas_settings).fit(task.class_attributes)
    adjusted = msas.transform(task.class_attributes)
    seen_position = np.full(task.n_classes, -1, dtype=np.int64)
    seen_position[seen] = np.arange(len(seen))
    generator = PrototypeGenerator(**prototype_settings).fit(
        adjusted[:, seen], features, seen_position[labels]
    )
    if prototypes is not None:
        prototypes = np.ascontiguousarray(prototypes, dtype=np.float32)
        expected = (len(unseen), features.shape[1])
        if prototypes.ndim != 3 or (prototypes.shape[0], prototypes.shape[2]) != expected:
            raise ValueError(
                f"prototypes: expected (L={expected[0]}, P, d={expected[1]}), one block per "
                f"unseen class in task.unseen_classes order, got shape {prototypes.shape}"
            )
        lambdas = None
    elif prototype_settings["n_prototypes"] == 0 or len(unseen) == 0:
        prototypes = np.zeros((len(unseen), 0, features.shape[1]), dtype=np.float32)
        lambdas = np.zeros(0)
    else:
        prototypes, lambdas = generator.generate(adjusted[:, unseen])
    return PrototypePhase(
        seen, unseen, centering, msas, adjusted, generator, prototypes, lambdas, features, labels
    )


class FSIGenZClassifier:
    """FSIGenZ as a zero-shot method: ``fit(task)``, ``decision_function(features) -> (N, C)``.

    Every group of hyperparameters is a mapping of the component's constructor arguments; a missing
    key takes the component's default, an unknown key is an error.

    Parameters
    ----------
    msas:
        :class:`~fsigenz.methods.msas.MSAS` settings (``enabled``, ``threshold``,
        ``threshold_mode``, ``weight``).
    prototypes:
        :class:`~fsigenz.methods.prototypes.PrototypeGenerator` settings (``n_prototypes``,
        ``lambda_min``, ``lambda_max``, ``solver``, ``rescale``). ``n_prototypes: 0`` → TCN
        baseline.
    dpsr:
        ``enabled`` (soft similarity targets; False → one-hot over all classes, one plain BCE),
        ``phi`` (ridge penalty ϕ of the similarity), ``clip`` (entries below are zeroed).
    scc:
        :class:`~fsigenz.methods.scc.SemanticContrastiveClassifier` settings.
    anchor:
        ``enabled`` (add the SCC's logits to the prior ``scale`` · reference score), ``scale``,
        ``metric`` (cosine | euclidean) and ``aggregate`` (max | mean over an unseen class's
        prototypes), as :func:`~fsigenz.methods.prototype_scores.reference_scores`.
    preset:
        ``"anchored"`` (default) or ``"paper"``: the values of :data:`PRESETS` under the explicit
        ``anchor`` and ``scc`` settings.
    l2_normalize:
        L2-normalise features after centring.

    Fitted attributes
    -----------------
    centering_, msas_, adjusted_attributes_ (m, C), prototype_generator_ (always fitted: it also
    makes prototypes for classes added later), class_attributes_ (m, C) raw, prototypes_ (L, P, d)
    float32 in the centred feature space, prototype_lambdas_ (P,) or None, similarity_ (C, C) or None
    (DPSR disabled), targets_, scc_, seen_classes_, unseen_classes_.
    """

    PRESETS = PRESETS

    def __init__(
        self,
        msas: Mapping[str, Any] | None = None,
        prototypes: Mapping[str, Any] | None = None,
        dpsr: Mapping[str, Any] | None = None,
        scc: Mapping[str, Any] | None = None,
        anchor: Mapping[str, Any] | None = None,
        preset: str = DEFAULT_PRESET,
        l2_normalize: bool = False,
    ) -> None:
        self.msas = msas
        self.prototypes = prototypes
        self.dpsr = dpsr
        self.scc = scc
        self.anchor = anchor
        self.preset = preset
        self.l2_normalize = l2_normalize

    def _settings(
        self, group: str, given: Mapping[str, Any] | None, defaults: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``given`` over the preset's values over ``defaults`` (unknown keys refused)."""
        if self.preset not in PRESETS:
            raise ValueError(f"preset: expected one of {sorted(PRESETS)}, got {self.preset!r}")
        preset_values = merge_settings(group, PRESETS[self.preset].get(group), defaults)
        return merge_settings(group, given, preset_values)

    @property
    def n_synthetic_per_class(self) -> int:
        """P, the number of prototypes per unseen class (fitted value when available)."""
        if hasattr(self, "prototypes_"):
            return int(self.prototypes_.shape[1])
        settings = merge_settings("prototypes", self.prototypes, constructor_defaults(PrototypeGenerator))
        return int(settings["n_prototypes"])

    @property
    def monitor_history_(self) -> list[tuple[int, Any]]:
        return self.scc_.monitor_history_

    @property
    def loss_history_(self) -> LossHistory:
        return self.scc_.loss_history_

    def _fit_phase_one(
        self, task: ZeroShotTask, prototypes: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Centre, adjust attributes (MSAS), build or take the prototypes; returns the centred
        training features and their labels."""
        phase = fit_prototype_phase(
            task,
            merge_settings("msas", self.msas, constructor_defaults(MSAS)),
            merge_settings("prototypes", self.prototypes, constructor_defaults(PrototypeGenerator)),
            self.l2_normalize,
            prototypes,
        )
        self.seen_classes_, self.unseen_classes_ = phase.seen_classes, phase.unseen_classes
        self.centering_, self.msas_ = phase.centering, phase.msas
        self.class_attributes_ = np.asarray(task.class_attributes, dtype=np.float64)
        self.adjusted_attributes_ = phase.adjusted_attributes
        self.prototype_generator_ = phase.generator
        self.prototypes_, self.prototype_lambdas_ = phase.prototypes, phase.prototype_lambdas
        return phase.features, phase.labels

    def generate_prototypes(self, task: ZeroShotTask) -> tuple[np.ndarray, np.ndarray]:
        """Phase 1 only (centring, MSAS, prototypes), no SCC training.

        Returns ``(prototypes, lambdas)``: (L, P, d) float32 in the centred feature space, in
        ``task.unseen_classes`` order, and the (P,) λ grid (empty when P = 0).
        """
        self._fit_phase_one(task, prototypes=None)
        return self.prototypes_, self.prototype_lambdas_

    def fit(
        self,
        task: ZeroShotTask,
        monitor: Monitor | None = None,
        prototypes: np.ndarray | None = None,
    ) -> FSIGenZClassifier:
        """Learn from ``task``; ``monitor(step, self)`` is called during SCC training.

        ``prototypes``: optional (L, P, d) prototypes for ``task.unseen_classes`` (in that order),
        in the centred feature space, replacing the generated ones (e.g. to compare generators).
        """
        dpsr_settings = merge_settings("dpsr", self.dpsr, DPSR_DEFAULTS)
        scc_settings = self._settings("scc", self.scc, constructor_defaults(SemanticContrastiveClassifier))
        self.anchor_ = self._settings("anchor", self.anchor, ANCHOR_DEFAULTS)
        _validate_anchor(self.anchor_)
        features, labels = self._fit_phase_one(task, prototypes)
        if self.anchor_["enabled"] and self.prototypes_.shape[1] == 0 and len(self.unseen_classes_):
            raise ValueError(
                "anchor.enabled: the anchored classifier needs prototypes of the unseen classes "
                "(prototypes.n_prototypes >= 1); use preset 'paper' without prototypes (TCN)"
            )
        seen, unseen = self.seen_classes_, self.unseen_classes_

        if dpsr_settings["enabled"]:
            self.similarity_ = class_similarity(
                self.adjusted_attributes_, phi=dpsr_settings["phi"], clip=dpsr_settings["clip"]
            )
        else:
            self.similarity_ = None
        self.targets_ = build_target_tables(
            self.similarity_, seen, unseen, dpsr_enabled=dpsr_settings["enabled"]
        )

        n_per_class = self.prototypes_.shape[1]
        training_rows = np.concatenate([features, self.prototypes_.reshape(-1, features.shape[1])])
        row_classes = np.concatenate([labels, np.repeat(unseen, n_per_class)])
        row_is_prototype = np.concatenate(
            [np.zeros(len(labels), dtype=bool), np.ones(len(unseen) * n_per_class, dtype=bool)]
        )
        # Set before training so a monitor can call self.decision_function mid-training.
        self.scc_ = SemanticContrastiveClassifier(**scc_settings)
        scc_monitor = None if monitor is None else (lambda step, _scc: monitor(step, self))
        self.scc_.fit(
            training_rows,
            row_classes,
            row_is_prototype,
            self.adjusted_attributes_,
            self.targets_,
            monitor=scc_monitor,
            anchor=self._anchor(),
        )
        return self

    def _anchor(self, references: tuple[np.ndarray, ...] | None = None) -> ReferenceScores | None:
        """The anchor (prior logits: scaled reference scores), or None when it is off.

        ``references``: (class_means, seen_classes, prototypes, unseen_classes) to score against
        instead of the fitted ones (classes added after training)."""
        anchor = getattr(self, "anchor_", None)
        if not anchor or not anchor["enabled"]:
            return None
        class_means, seen, prototypes, unseen = references or (
            self.prototype_generator_.class_means_,
            self.seen_classes_,
            self.prototypes_,
            self.unseen_classes_,
        )
        return ReferenceScores(
            class_means,
            seen,
            prototypes,
            unseen,
            anchor["metric"],
            anchor["aggregate"],
            float(anchor["scale"]),
        )

    def decision_function(
        self, features: np.ndarray, class_attributes: np.ndarray | None = None
    ) -> np.ndarray:
        """Logits (N, C) of raw (uncentred) ``features`` against the task's classes.

        ``class_attributes`` (m, C'), raw A_o columns of any classes — e.g. classes added after
        training — scores against those instead; MSAS is applied with the threshold fitted at
        ``fit``.
        """
        if not hasattr(self, "scc_"):
            raise RuntimeError("FSIGenZClassifier.decision_function called before fit")
        centred = self.centering_.transform(features)
        if class_attributes is None:
            return self.scc_.decision_function(centred)
        adjusted = self.msas_.transform(class_attributes)
        references = self._references_for(adjusted)
        return self.scc_.decision_function(
            centred, adjusted, None if references is None else self._anchor(references)
        )

    def _references_for(self, adjusted_attributes: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """Anchor references of arbitrary classes (adjusted attribute columns): a trained seen
        class keeps its class mean, every other class gets prototypes from the fitted generator."""
        if not getattr(self, "anchor_", {}).get("enabled"):
            return None
        seen_columns = self.adjusted_attributes_[:, self.seen_classes_]
        matches = np.all(np.isclose(adjusted_attributes[:, :, None], seen_columns[:, None, :]), axis=0)
        is_seen = matches.any(axis=1)
        seen = np.flatnonzero(is_seen)
        unseen = np.flatnonzero(~is_seen)
        class_means = self.prototype_generator_.class_means_[matches[is_seen].argmax(axis=1)]
        prototypes, _ = self.prototype_generator_.generate(adjusted_attributes[:, unseen])
        return class_means, seen, prototypes, unseen


def _validate_anchor(anchor: Mapping[str, Any]) -> None:
    if not isinstance(anchor["enabled"], (bool, np.bool_)):
        raise ValueError(f"anchor.enabled: expected true or false, got {anchor['enabled']!r}")
    scale = anchor["scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"anchor.scale: expected a number > 0, got {scale!r}")
    if anchor["metric"] not in METRICS:
        raise ValueError(f"anchor.metric: expected one of {list(METRICS)}, got {anchor['metric']!r}")
    if anchor["aggregate"] not in AGGREGATES:
        raise ValueError(f"anchor.aggregate: expected one of {list(AGGREGATES)}, got {anchor['aggregate']!r}")
