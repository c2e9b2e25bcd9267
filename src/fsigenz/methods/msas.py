"""Model-Specific Attribute Scoring (MSAS), method notes "Phase 1a".

    A_mdf = A_o ⊙ 1[A_o > T_h]
    A     = (A_o + A_mdf) · W_A

Attribute entries above the threshold T_h count double, then the whole matrix is scaled by the
scalar W_A. The adjusted matrix A replaces A_o everywhere downstream (prototypes, DPSR, SCC
encoder).

Names: ``attributes`` is A_o, (m, C) with one column per class; ``threshold_value_`` is T_h;
``weight`` is W_A.
"""

from __future__ import annotations

import numpy as np

THRESHOLD_MODES = ("quantile", "absolute")


def _as_attribute_matrix(attributes: np.ndarray, argument: str = "attributes") -> np.ndarray:
    attributes = np.asarray(attributes, dtype=np.float64)
    if attributes.ndim != 2 or attributes.size == 0:
        raise ValueError(
            f"{argument}: expected a non-empty (m, C) matrix with one column per class, "
            f"got shape {attributes.shape}"
        )
    if not np.all(np.isfinite(attributes)):
        raise ValueError(f"{argument}: contains NaN or infinite entries")
    return attributes


class MSAS:
    """Emphasise strong attributes: entries above T_h count double, then scale by W_A.

    Parameters
    ----------
    enabled:
        ``False`` makes :meth:`transform` the identity (A = A_o), the ablation switch.
    threshold:
        With ``threshold_mode="quantile"``, the quantile (in [0, 1]) of all entries of A_o used as
        T_h; with ``"absolute"``, T_h itself.
    threshold_mode:
        ``"quantile"`` (default) or ``"absolute"``.
    weight:
        The scalar W_A.

    Fitted attributes
    -----------------
    threshold_value_:
        T_h as a number, fixed at :meth:`fit`; :meth:`transform` reuses it on attribute columns of
        classes added later, so new classes are adjusted exactly like the training classes.
    n_attributes_:
        m, the number of attribute rows seen at fit.
    """

    def __init__(
        self,
        enabled: bool = True,
        threshold: float = 0.75,
        threshold_mode: str = "quantile",
        weight: float = 1.0,
    ) -> None:
        self.enabled = enabled
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.weight = weight

    def fit(self, attributes: np.ndarray) -> MSAS:
        """Fix T_h from A_o (m, C): a quantile of all its entries, or the absolute value."""
        attributes = _as_attribute_matrix(attributes)
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ValueError(
                f"threshold_mode: expected one of {THRESHOLD_MODES}, got {self.threshold_mode!r}"
            )
        if self.threshold_mode == "quantile":
            if not 0.0 <= float(self.threshold) <= 1.0:
                raise ValueError(f"threshold: a quantile must lie in [0, 1], got {self.threshold}")
            self.threshold_value_ = float(np.quantile(attributes, float(self.threshold)))
        else:
            self.threshold_value_ = float(self.threshold)
        self.n_attributes_ = int(attributes.shape[0])
        return self

    def transform(self, attributes: np.ndarray) -> np.ndarray:
        """Return A = (A_o + A_o ⊙ 1[A_o > T_h]) · W_A, (m, C') float64, for any set of columns."""
        if not hasattr(self, "threshold_value_"):
            raise RuntimeError("MSAS.transform called before fit")
        attributes = _as_attribute_matrix(attributes)
        if attributes.shape[0] != self.n_attributes_:
            raise ValueError(
                f"attributes: expected ({self.n_attributes_}, C) — one column per class with the "
                f"{self.n_attributes_} attributes seen at fit — got shape {attributes.shape}"
            )
        if not self.enabled:
            return attributes.copy()
        emphasised = np.where(attributes > self.threshold_value_, attributes, 0.0)
        return (attributes + emphasised) * float(self.weight)

    def fit_transform(self, attributes: np.ndarray) -> np.ndarray:
        return self.fit(attributes).transform(attributes)
