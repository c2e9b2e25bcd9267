"""The trained, shippable classifier: a fitted method plus what it needs to answer for new images.

Classes can be added after training by their attribute vectors (:meth:`ZeroShotClassifier.with_new_classes`)
for methods whose ``decision_function`` scores any attribute columns (FSIGenZ, TCN, ESZSL). Added
classes count as unseen: calibrated stacking leaves their scores alone, as it does for every class
without training images.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fsigenz.methods.base import ZeroShotMethod
from fsigenz.methods.registry import METHODS


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

    def with_new_classes(
        self, names: list[str], attributes: np.ndarray, fine_tune_steps: int = 0
    ) -> "ZeroShotClassifier":
        """A copy that also scores the classes ``names``, given by raw attribute columns (m, L).

        The attributes must be in the form the training classes had (e.g. L2-normalised columns for
        xlsa17 ``att``); the method transforms them exactly as the trained ones (FSIGenZ: MSAS with the
        threshold fixed at fit). With ``fine_tune_steps`` 0 the fitted estimator is shared, not
        copied: nothing is retrained. With ``fine_tune_steps`` > 0 (FSIGenZ, TCN) the estimator is
        refreshed: prototypes for the new classes and a brief SCC fine-tune.
        """
        if not self.accepts_new_classes:
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
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"names: duplicated class name(s) {duplicated}")
        clashing = sorted(set(names) & set(self.class_names))
        if clashing:
            raise ValueError(f"names: already classes of the model: {clashing}")
        n_classes = len(self.class_names)
        if fine_tune_steps:
            spec = METHODS.get(self.method_name)
            if spec is None or not spec.fine_tunes_new_classes:
                raise ValueError(f"fine_tune_steps: method '{self.method_name}' cannot be fine-tuned on new classes; fsigenz and tcn can")
            if self.added_class_attributes is not None:
                raise ValueError("fine_tune_steps: refresh before adding classes without it, not after")
            trained = np.asarray(self._metadata_field("class_attributes"), dtype=np.float64)
            return dataclasses.replace(
                self,
                estimator=self.estimator.with_new_classes(attributes, fine_tune_steps),
                class_names=(*self.class_names, *names),
                unseen_classes=np.concatenate([self.unseen_classes, np.arange(n_classes, n_classes + len(names))]),
                metadata={**self.metadata, "class_attributes": np.hstack([trained, attributes])},
            )
        if self.added_class_attributes is not None:
            attributes = np.hstack([self.added_class_attributes, attributes])
        return dataclasses.replace(
            self,
            class_names=(*self.class_names, *names),
            unseen_classes=np.concatenate([self.unseen_classes, np.arange(n_classes, n_classes + len(names))]),
            added_class_attributes=attributes,
        )

    def scores(self, features: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """(N, C) class scores; with ``calibrated`` γ is subtracted from the seen classes."""
        features = np.asarray(features, dtype=np.float32)
        if self.added_class_attributes is None:
            scores = self.estimator.decision_function(features)
        else:
            trained = np.asarray(self._metadata_field("class_attributes"), dtype=np.float64)
            all_attributes = np.hstack([trained, self.added_class_attributes])
            scores = self.estimator.decision_function(features, class_attributes=all_attributes)
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
