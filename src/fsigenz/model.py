"""The trained, shippable classifier: a fitted method plus what it needs to answer for new images.

Classes can be added after training by their attribute vectors (:meth:`ZeroShotClassifier.with_new_classes`):
FSIGenZ scores them by prototypes from its fitted generator (:mod:`fsigenz.methods.prototype_classes`),
methods whose ``decision_function`` scores any attribute columns (TCN, ESZSL) by those. Labelled
examples of a class, new or trained, can be folded in (:meth:`ZeroShotClassifier.with_examples`,
FSIGenZ). Added classes count as unseen: calibrated stacking leaves their scores alone, as it does
for every class without training images.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fsigenz.methods.base import ZeroShotMethod
from fsigenz.methods.prototype_classes import PrototypeClasses, supports_prototype_classes
from fsigenz.methods.registry import METHODS

ADDED_CLASS_SCORING = ("auto", "prototypes", "attributes")


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
    # (m, L') raw attribute columns [A_o] of the classes added after training, the last L' of
    # class_names; None when none were added (models pickled before this field read it as None).
    added_class_attributes: np.ndarray | None = None
    # classes scored by prototypes: added after training, or with labelled examples folded in (None:
    # none; models pickled before this field read it as None)
    prototype_classes: PrototypeClasses | None = None

    @property
    def seen_mask(self) -> np.ndarray:
        mask = np.zeros(len(self.class_names), dtype=bool)
        mask[self.seen_classes] = True
        return mask

    @property
    def feature_dim(self) -> int:
        """d, the length of the feature vectors the model scores."""
        return int(self._metadata_field("feature_dim"))

    @property
    def attribute_dim(self) -> int:
        """m, the length of a class attribute vector."""
        return int(self._metadata_field("attribute_dim"))

    @property
    def accepts_new_classes(self) -> bool:
        """Whether the method scores attribute columns of classes it was not trained on (declared on
        the method registry; a method outside the registry declares nothing)."""
        spec = METHODS.get(self.method_name)
        return spec is not None and spec.accepts_new_classes

    def _metadata_field(self, key: str):
        if key not in self.metadata:
            raise ValueError(
                f"ZeroShotClassifier.metadata: no '{key}'; the model was saved without it, retrain it "
                "with the classifier_training pipeline"
            )
        return self.metadata[key]

    @property
    def scores_classes_by_prototypes(self) -> bool:
        """Whether classes added to this model are scored by their prototypes (FSIGenZ with prototypes;
        :mod:`fsigenz.methods.prototype_classes`) rather than by the method's attribute scoring."""
        return supports_prototype_classes(self.estimator)

    def with_new_classes(
        self, names: list[str], attributes: np.ndarray, scoring: str = "auto", margin: float | None = None
    ) -> ZeroShotClassifier:
        """A copy that also scores the classes ``names``, given by raw attribute columns (m, L).

        The attributes must be in the form the training classes had (e.g. L2-normalised columns for
        xlsa17 ``att``). Nothing is retrained and the trained classes' scores do not change.
        ``scoring``: ``"prototypes"`` — P prototypes per class from the fitted generator (MSAS with the
        threshold fixed at fit), scored as :mod:`fsigenz.methods.prototype_classes` says (the anchored
        default: ``anchor.scale`` × the cosine to the nearest of them, less the margin δ; FSIGenZ with
        prototypes);
        ``"attributes"`` — the method scores the attribute columns as its own, with no margin (FSIGenZ /
        TCN: the SCC, with the anchor when the model has one; ESZSL: its bilinear map); ``"auto"``:
        prototypes when the model has them. ``margin``: δ in logits for ``"prototypes"`` (None: the
        model's current one, else ``prototype_classes.ADDED_CLASS_MARGIN`` for the anchored default);
        it applies to every class and example reference scored by prototypes.
        """
        if scoring not in ADDED_CLASS_SCORING:
            raise ValueError(f"scoring: expected one of {ADDED_CLASS_SCORING}, got {scoring!r}")
        if scoring == "auto":
            scoring = "prototypes" if self.scores_classes_by_prototypes else "attributes"
        if margin is not None and scoring == "attributes":
            raise ValueError("margin: applies to scoring='prototypes' only; 'attributes' scores with none")
        if scoring == "attributes" and not self.accepts_new_classes:
            raise ValueError(
                f"method '{self.method_name}': cannot score classes added after training (its "
                "decision_function takes no class_attributes); fsigenz, tcn and eszsl can"
            )
        names = [str(name) for name in names]
        if not names:
            raise ValueError("names: expected at least one class to add, got none")
        attributes = np.asarray(attributes, dtype=np.float64)
        if attributes.shape != (self.attribute_dim, len(names)):
            raise ValueError(
                f"attributes: expected ({self.attribute_dim}, {len(names)}), one column of the model's "
                f"{self.attribute_dim} attributes per name, got shape {attributes.shape}"
            )
        if not np.all(np.isfinite(attributes)):
            bad = sorted({names[c] for c in np.flatnonzero(~np.isfinite(attributes).all(axis=0))})
            raise ValueError(f"attributes: NaN or infinite entries for class(es) {bad}")
        zero = [names[c] for c in np.flatnonzero(~np.any(attributes != 0, axis=0))]
        if zero:
            raise ValueError(f"attributes: all-zero attribute vector for class(es) {zero[:5]}")
        self._check_new_names(names)
        n_classes = len(self.class_names)
        grown = dict(
            class_names=(*self.class_names, *names),
            unseen_classes=np.concatenate(
                [self.unseen_classes, np.arange(n_classes, n_classes + len(names))]
            ),
        )
        if scoring == "prototypes":
            if self.added_class_attributes is not None:
                raise ValueError(
                    "scoring: this model's added classes are scored by attributes; add the others so too"
                )
            if self.prototype_classes is None:
                base = PrototypeClasses.for_estimator(self.estimator, margin)
            else:
                base = self.prototype_classes.with_margin(margin)
            return dataclasses.replace(
                self, prototype_classes=base.with_generated(self.estimator, n_classes, attributes), **grown
            )
        if self.prototype_classes is not None:
            raise ValueError(
                "scoring: this model's added classes or examples are scored by prototypes; add the others "
                "so too"
            )
        if self.added_class_attributes is not None:
            attributes = np.hstack([self.added_class_attributes, attributes])
        return dataclasses.replace(self, added_class_attributes=attributes, **grown)

    def with_examples(self, class_name: str, features: np.ndarray) -> ZeroShotClassifier:
        """A copy with k labelled examples (raw features (k, d)) of one class folded in (few-shot).

        The class's examples are averaged (with any folded in before) into one more reference of the
        class, scored like its prototypes (:mod:`fsigenz.methods.prototype_classes`; the anchored default:
        ``anchor.scale`` × the cosine to the mean, less the margin δ): a class of the model keeps its own
        score where that is higher; a new name becomes a class known by its examples alone. Nothing is
        retrained. FSIGenZ models with prototypes only.
        """
        if not self.scores_classes_by_prototypes:
            raise ValueError(
                f"method '{self.method_name}': folding in examples needs an FSIGenZ model with prototypes "
                "(prototypes.n_prototypes >= 1)"
            )
        if self.added_class_attributes is not None:
            raise ValueError(
                "examples: this model's added classes are scored by attributes, which takes no examples"
            )
        class_name = str(class_name)
        if not class_name.strip():
            raise ValueError("class_name: expected a class name, got an empty one")
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] != self.feature_dim:
            raise ValueError(
                f"features: expected (k, {self.feature_dim}) with k >= 1 examples of class '{class_name}', "
                f"got shape {features.shape}"
            )
        if not np.all(np.isfinite(features)):
            raise ValueError(f"features: NaN or infinite values among the examples of class '{class_name}'")
        base = self.prototype_classes or PrototypeClasses.for_estimator(self.estimator)
        if class_name in self.class_names:
            index = self.class_names.index(class_name)
            return dataclasses.replace(
                self, prototype_classes=base.with_examples(self.estimator, index, features)
            )
        index = len(self.class_names)
        return dataclasses.replace(
            self,
            class_names=(*self.class_names, class_name),
            unseen_classes=np.append(self.unseen_classes, index),
            prototype_classes=base.with_examples(self.estimator, index, features),
        )

    def _check_new_names(self, names: list[str]) -> None:
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"names: duplicated class name(s) {duplicated}")
        clashing = sorted(set(names) & set(self.class_names))
        if clashing:
            raise ValueError(f"names: already classes of the model: {clashing}")

    def scores(self, features: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """(N, C) class scores; with ``calibrated`` γ is subtracted from the seen classes."""
        features = np.asarray(features, dtype=np.float32)
        if self.added_class_attributes is None:
            scores = self.estimator.decision_function(features)
        else:
            trained = np.asarray(self._metadata_field("class_attributes"), dtype=np.float64)
            all_attributes = np.hstack([trained, self.added_class_attributes])
            scores = self.estimator.decision_function(features, class_attributes=all_attributes)
        if self.prototype_classes is not None:
            scores = self.prototype_classes.apply(self.estimator, features, scores, len(self.class_names))
        if calibrated:
            scores = scores - self.calibration_gamma * self.seen_mask.astype(scores.dtype)
        return scores

    def predict(self, features: np.ndarray, top_k: int = 5, calibrated: bool = True) -> pd.DataFrame:
        """Predicted class, its score and the top-k classes for each row of ``features``."""
        if isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1:
            raise ValueError(f"top_k: expected an integer >= 1, got {top_k!r}")
        scores = self.scores(features, calibrated)
        k = min(int(top_k), scores.shape[1])
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
