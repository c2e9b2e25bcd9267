"""Classes scored by their prototypes, beside a fitted FSIGenZ model: classes added after training
(by attribute vector) and labelled examples folded in later (few-shot), without retraining the SCC.

A class added after training has no training image and no place in the SCC's training; scoring its
attribute vector through the SCC's semantic encoder alone ranks it poorly, and fine-tuning the SCC on
the new classes moves the trained classes' scores. Here the trained model is left as it is, and an
added class c is scored by its **references** r_c,j in the model's centred feature space:

- the P prototypes μ_c,k = M_s α_k that the fitted generator makes from its MSAS-adjusted attribute
  vector (method notes "Phase 1b": the same generator, threshold T_h and λ grid as the trained
  unseen classes), when the class is given by attributes;
- the mean of its labelled examples, when some are folded in (:meth:`PrototypeClasses.with_examples`).

    proto_c(x) = max_j cos(x̃, r_c,j),   x̃ = the centred (and, if the model does, L2-normalised) x

The trained unseen classes u are scored both ways: by the SCC, and by the same prototype cosine over
the prototypes they were trained with. Per image, the added class's cosine is placed within the
trained unseen classes' cosines and mapped onto their SCC scores by their mean and spread:

    score_c(x) = mean_u SCC_u(x) + std_u SCC_u(x) · (proto_c(x) − mean_u proto_u(x)) / std_u proto_u(x)

so an added class ranks among the trained unseen classes on an image as its prototypes' closeness
does, and calibrated stacking treats it like a trained unseen class. The SCC learnt to keep its unseen
classes off the seen classes' images; an added class did not, and the prototypes are made from the
seen class means, so an added class is a candidate only where it is at least as close as the nearest
seen class mean (max_j cos(x̃, r_c,j) ≥ max_s cos(x̃, m_s): the nearest-class-mean rule between the seen
classes and it); elsewhere its score is the image's lowest trained score minus 1. Without that rule,
on the synthetic default (three classes added; ``benchmarks/serving_added_classes.py``) the trained
classes' calibrated H fell by 1.6 points (seed 0), and by up to 2.4 (seed 2) even with the spread
damped to 0.8; with it, see docs/serving.md. A trained class
with folded-in examples keeps its own score where that is higher:
score_c(x) = max(SCC_c(x), the mapped cosine to the mean of its examples).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

TINY = np.finfo(np.float64).tiny
MIN_TRAINED_UNSEEN = 2  # the per-image mapping needs a spread of trained unseen classes


def supports_prototype_classes(estimator) -> bool:
    """Whether ``estimator`` is a fitted FSIGenZ-style model with prototypes for its unseen classes:
    centring, MSAS, a prototype generator, at least two trained unseen classes with prototypes, and an
    SCC whose scores the prototype scores are mapped onto."""
    needed = ("centering_", "msas_", "prototype_generator_", "prototypes_", "unseen_classes_", "scc_")
    if not all(hasattr(estimator, name) for name in needed):
        return False
    prototypes = np.asarray(estimator.prototypes_)
    return prototypes.ndim == 3 and prototypes.shape[0] >= MIN_TRAINED_UNSEEN and prototypes.shape[1] > 0


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), TINY)


@dataclass
class PrototypeClasses:
    """References of the classes scored by prototypes, by class index in the model's class list.

    ``generated`` holds the attribute-generated prototypes (P, d) of classes added by attributes;
    ``example_sums`` / ``example_counts`` the running sum and count of each class's folded-in
    examples (centred).
    """

    generated: dict[int, np.ndarray] = field(default_factory=dict)
    example_sums: dict[int, np.ndarray] = field(default_factory=dict)
    example_counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def for_estimator(cls, estimator) -> PrototypeClasses:
        if not supports_prototype_classes(estimator):
            raise ValueError(
                f"{type(estimator).__name__}: scoring classes by prototypes needs a fitted FSIGenZ model "
                f"with prototypes for at least {MIN_TRAINED_UNSEEN} unseen classes "
                f"(prototypes.n_prototypes >= 1)"
            )
        return cls()

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
            rows.append((self.example_sums[class_index] / self.example_counts[class_index])[None, :])
        return np.concatenate(rows)

    def apply(self, estimator, features: np.ndarray, scores: np.ndarray, n_classes: int) -> np.ndarray:
        """(N, n_classes) scores: ``scores`` (N, C ≤ n_classes) of the model's own columns, with the
        columns of the prototype classes set (added classes) or raised (trained classes with examples)."""
        out = np.full((scores.shape[0], n_classes), -np.inf, dtype=np.float32)
        out[:, : scores.shape[1]] = scores
        indices = self.class_indices
        if not indices:
            return out
        trained = np.asarray(
            estimator.prototypes_, dtype=np.float64
        )  # (L, P, d) of the trained unseen classes
        blocks = [*trained, *(self.references(c) for c in indices)]
        owner = np.repeat(np.arange(len(blocks)), [len(b) for b in blocks])
        centred = _unit_rows(estimator.centering_.transform(features))
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
        mapped = np.where(added_cos >= nearest_seen, mapped, floor)
        columns = np.asarray(indices)
        out[:, columns] = np.maximum(out[:, columns], mapped.astype(np.float32))
        return out
