"""Classes scored by their prototypes, beside a fitted FSIGenZ model: classes added after training
(by attribute vector) and labelled examples folded in later (few-shot), without retraining the SCC.

A class added after training has no training image and no place in the SCC's training, and the
trained model is left as it is: the trained classes' scores do not change, only the argmax can move to
an added class. An added class c has **references** r_c,j in the model's centred feature space:

- the P prototypes μ_c,k = M_s α_k that the fitted generator makes from its MSAS-adjusted attribute
  vector (method notes "Phase 1b": the same generator, threshold T_h and λ grid as the trained
  unseen classes), when the class is given by attributes;
- the mean of its labelled examples, when some are folded in (:meth:`PrototypeClasses.with_examples`).

**The anchored default** (``fsigenz.preset: anchored``, docs/method.md "The default classifier") scores
an added class as its anchor scores the trained unseen classes — ``anchor.scale`` × the cosine to the
nearest of the class's references, the nearest-class-mean score the SCC's correction is added to —
less a margin δ:

    score_c(x) = scale · max_j cos(x̃, r_c,j) − δ

(x̃: the centred, and if the model does, L2-normalised x). The SCC's correction is left out: it was
learnt for the trained classes, and for an attribute vector it never saw it can be far off (on the
tests' benchmark, a model trained 800 steps without early stopping scored an added class a median 1.8
logits below its anchor on its own images). The margin δ (:data:`ADDED_CLASS_MARGIN`, in logits: the
anchored logits have a fixed scale, as calibrated stacking's γ) keeps the trained classes whole: the
SCC learnt to keep its own unseen classes apart, not from classes it never saw, and with δ = 0 the
added classes take images of the trained unseen classes. δ was chosen on validation only
(``benchmarks/serving_added_classes.py``; docs/serving.md, "Adding classes").

**Without the anchor** (``preset: paper``) the SCC's logits have no fixed scale, and the added class's
cosine is placed, per image, within the trained unseen classes' cosines to their own prototypes and
mapped onto their SCC scores by their mean and spread:

    score_c(x) = mean_u SCC_u(x) + std_u SCC_u(x) · (proto_c(x) − mean_u proto_u(x)) / std_u proto_u(x)

with proto_c(x) = max_j cos(x̃, r_c,j); an added class is a candidate only where it is at least as close
as the nearest seen class mean (elsewhere its score is the image's lowest trained score minus 1). That
rule was chosen on the former default's test numbers and is kept as it was; its margin is 0.

A trained class with folded-in examples keeps its own score where that is higher:
score_c(x) = max(own score, the example reference's score as above).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

TINY = np.finfo(np.float64).tiny
MIN_TRAINED_UNSEEN = 2  # the per-image mapping needs a spread of trained unseen classes
# δ, subtracted from the anchored score of every class scored here (logits; anchor.scale 10 × a cosine):
# chosen on validation by benchmarks/serving_added_classes.py (docs/serving.md, "Adding classes")
ADDED_CLASS_MARGIN = 1.0


def supports_prototype_classes(estimator) -> bool:
    """Whether ``estimator`` is a fitted FSIGenZ-style model with prototypes for its unseen classes:
    centring, MSAS, a prototype generator, at least two trained unseen classes with prototypes, and an
    SCC whose scores the prototype scores are mapped onto."""
    needed = ("centering_", "msas_", "prototype_generator_", "prototypes_", "unseen_classes_", "scc_")
    if not all(hasattr(estimator, name) for name in needed):
        return False
    prototypes = np.asarray(estimator.prototypes_)
    return prototypes.ndim == 3 and prototypes.shape[0] >= MIN_TRAINED_UNSEEN and prototypes.shape[1] > 0


def is_anchored(estimator) -> bool:
    """Whether the fitted estimator scores with the anchor (the default classifier's prior)."""
    anchor = getattr(estimator, "anchor_", None)
    return bool(anchor and anchor.get("enabled"))


def default_margin(estimator) -> float:
    """δ for ``estimator``: :data:`ADDED_CLASS_MARGIN` for the anchored classifier, 0 for the mapping."""
    return ADDED_CLASS_MARGIN if is_anchored(estimator) else 0.0


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), TINY)


@dataclass
class PrototypeClasses:
    """References of the classes scored by prototypes, by class index in the model's class list.

    ``generated`` holds the attribute-generated prototypes (P, d) of classes added by attributes;
    ``example_sums`` / ``example_counts`` the running sum
    and count of each class's folded-in examples (centred); ``margin`` is δ, subtracted from the
    scores of these references.
    """

    generated: dict[int, np.ndarray] = field(default_factory=dict)
    example_sums: dict[int, np.ndarray] = field(default_factory=dict)
    example_counts: dict[int, int] = field(default_factory=dict)
    margin: float = 0.0

    @classmethod
    def for_estimator(cls, estimator, margin: float | None = None) -> PrototypeClasses:
        """Empty references for ``estimator``; ``margin`` None takes :func:`default_margin`."""
        if not supports_prototype_classes(estimator):
            raise ValueError(
                f"{type(estimator).__name__}: scoring classes by prototypes needs a fitted FSIGenZ model "
                f"with prototypes for at least {MIN_TRAINED_UNSEEN} unseen classes "
                "(prototypes.n_prototypes >= 1)"
            )
        return cls(margin=default_margin(estimator) if margin is None else checked_margin(margin))

    def with_margin(self, margin: float | None) -> PrototypeClasses:
        """A copy with δ = ``margin`` (None: unchanged)."""
        return self if margin is None else dataclasses.replace(self, margin=checked_margin(margin))

    def with_generated(self, estimator, first_index: int, attributes: np.ndarray) -> PrototypeClasses:
        """A copy with classes ``first_index``, ``first_index + 1``, … given by raw attribute columns
        (m, L')."""
        adjusted = estimator.msas_.transform(np.asarray(attributes, dtype=np.float64))
        prototypes, _ = estimator.prototype_generator_.generate(adjusted)
        generated = dict(self.generated)
        for offset, class_prototypes in enumerate(prototypes):
            generated[first_index + offset] = np.asarray(class_prototypes, dtype=np.float64)
        return dataclasses.replace(self, generated=generated)

    def with_examples(self, estimator, class_index: int, features: np.ndarray) -> PrototypeClasses:
        """A copy with the raw ``features`` (k, d) folded into the mean of class ``class_index``'s
        examples."""
        centred = np.asarray(estimator.centering_.transform(features), dtype=np.float64)
        sums, counts = dict(self.example_sums), dict(self.example_counts)
        sums[class_index] = sums.get(class_index, 0.0) + centred.sum(axis=0)
        counts[class_index] = counts.get(class_index, 0) + len(centred)
        return dataclasses.replace(self, example_sums=sums, example_counts=counts)

    @property
    def class_indices(self) -> list[int]:
        return sorted(set(self.generated) | set(self.example_sums))

    def references(self, class_index: int) -> np.ndarray:
        """(n, d) references of one class: its generated prototypes, then the mean of its examples."""
        rows = [self.generated[class_index]] if class_index in self.generated else []
        if class_index in self.example_sums:
            rows.append(self._example_mean(class_index)[None, :])
        return np.concatenate(rows)

    def _example_mean(self, class_index: int) -> np.ndarray:
        return self.example_sums[class_index] / self.example_counts[class_index]

    def apply(self, estimator, features: np.ndarray, scores: np.ndarray, n_classes: int) -> np.ndarray:
        """(N, n_classes) scores: ``scores`` (N, C ≤ n_classes) of the model's own columns, with the
        columns of the prototype classes set (added classes) or raised (trained classes with examples)."""
        out = np.full((scores.shape[0], n_classes), -np.inf, dtype=np.float32)
        out[:, : scores.shape[1]] = scores
        indices = self.class_indices
        if not indices:
            return out
        centred = _unit_rows(estimator.centering_.transform(features))
        if is_anchored(estimator):
            own = self._anchored_scores(estimator, indices, centred)
        else:
            own = self._mapped_scores(estimator, indices, centred, scores)
        columns = np.asarray(indices)
        out[:, columns] = np.maximum(out[:, columns], (own - float(self.margin)).astype(np.float32))
        return out

    def _anchored_scores(self, estimator, indices: list[int], centred: np.ndarray) -> np.ndarray:
        """(N, len(indices)) ``anchor.scale`` × the cosine to each class's nearest reference."""
        scale = float(estimator.anchor_["scale"])
        return scale * np.stack(
            [(centred @ _unit_rows(self.references(c)).T).max(axis=1) for c in indices], axis=1
        )

    def _mapped_scores(self, estimator, indices: list[int], centred, scores) -> np.ndarray:
        """(N, len(indices)): the cosines mapped onto the trained unseen classes' SCC scores (no anchor)."""
        trained = np.asarray(estimator.prototypes_, dtype=np.float64)  # (L, P, d) trained unseen classes
        blocks = [*trained, *(self.references(c) for c in indices)]
        owner = np.repeat(np.arange(len(blocks)), [len(b) for b in blocks])
        cosines = centred @ _unit_rows(np.concatenate(blocks)).T  # (N, R)
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        per_class = np.maximum.reduceat(cosines, starts, axis=1)  # (N, L + added)
        trained_cos, added_cos = per_class[:, : len(trained)], per_class[:, len(trained) :]
        trained_scc = scores[:, np.asarray(estimator.unseen_classes_)].astype(np.float64)
        standardised = (added_cos - trained_cos.mean(axis=1, keepdims=True)) / np.maximum(
            trained_cos.std(axis=1, keepdims=True), TINY
        )
        mapped = (
            trained_scc.mean(axis=1, keepdims=True) + trained_scc.std(axis=1, keepdims=True) * standardised
        )
        nearest_seen = (centred @ _unit_rows(estimator.prototype_generator_.class_means_).T).max(
            axis=1, keepdims=True
        )
        floor = scores.min(axis=1, keepdims=True) - 1.0
        return np.where(added_cos >= nearest_seen, mapped, floor)


def checked_margin(margin) -> float:
    """``margin`` as a float, refusing what is not a finite number."""
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating, np.integer)):
        raise ValueError(f"margin: expected a finite number (logits), got {margin!r}")
    if not np.isfinite(margin):
        raise ValueError(f"margin: expected a finite number (logits), got {margin!r}")
    return float(margin)
