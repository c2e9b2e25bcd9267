"""DPSR class-to-class similarity and the SCC's soft targets, method notes "Phase 2".

Similarity (from attributes only; the class itself is excluded from its own reconstruction):

    s_p = argmin_s ‖a_p − Σ_{q≠p} a_q s_pq‖² + ϕ ‖s‖²

then entries below ``clip`` are set to 0 and each row is normalised to sum 1, giving S̃ (C × C).

Closed form, no loop over classes: with H = (A Aᵀ + ϕ I)⁻¹ and G = Aᵀ H A (C × C), removing column p
from A is a rank-one downdate of A Aᵀ + ϕ I, and Sherman–Morrison gives

    s_pq = G_pq / (1 − G_pp)   for q ≠ p,

where 0 ≤ G_pp < 1 whenever ϕ > 0. One m × m inverse serves all C classes.

Targets t_ij of the BCE (i a training row, j a class column):

- real sample of seen class y: t = 1[j = y] on seen columns; S̃ᵁ_{y j} on unseen columns, S̃ᵁ being
  row y of S̃ renormalised over the unseen columns only;
- prototype of unseen class u: t = 1 at j = u; S̃_{u j} elsewhere.

Loss groups: L_S = real rows × seen columns; L_U = real rows × unseen columns, and prototype rows ×
all columns; the loss is mean BCE over L_S + β · mean BCE over L_U. With DPSR disabled every target
is one-hot over all C columns and every entry belongs to one group (a single plain BCE).

Targets of a batch are gathered from per-class tables indexed by (is_prototype, class), so no
N × C target matrix is ever built for the whole training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REAL, PROTOTYPE = 0, 1


def class_similarity(attributes: np.ndarray, phi: float = 1.0, clip: float = 1e-3) -> np.ndarray:
    """S̃ (C, C) float64 from attributes A (m, C): self-excluding ridge, clip, rows summing to 1.

    Row p holds the weights of the other classes in the reconstruction of a_p; the diagonal is 0.
    A row left all-zero after clipping (no class reconstructs a_p with weight >= ``clip``) becomes
    uniform over the other classes: with no evidence of similarity, no neighbour is preferred.
    """
    attributes = np.asarray(attributes, dtype=np.float64)
    if attributes.ndim != 2 or attributes.shape[1] < 2:
        raise ValueError(
            "attributes: expected an (m, C) matrix with one column per class and C >= 2, "
            f"got shape {attributes.shape}"
        )
    if not phi > 0:
        raise ValueError(f"phi: expected a ridge penalty > 0, got {phi}")
    n_attributes, n_classes = attributes.shape
    regularised_gram = attributes @ attributes.T + phi * np.eye(n_attributes)
    leverage = attributes.T @ np.linalg.solve(regularised_gram, attributes)  # G = Aᵀ H A, (C, C)
    self_leverage = np.diag(leverage).copy()
    similarity = leverage / (1.0 - self_leverage)[:, None]
    np.fill_diagonal(similarity, 0.0)
    similarity[similarity < clip] = 0.0

    row_sums = similarity.sum(axis=1, keepdims=True)
    empty_rows = row_sums[:, 0] == 0.0
    similarity = np.divide(similarity, row_sums, out=np.zeros_like(similarity), where=row_sums > 0)
    if np.any(empty_rows):
        similarity[empty_rows] = 1.0 / (n_classes - 1)
        similarity[np.flatnonzero(empty_rows), np.flatnonzero(empty_rows)] = 0.0
    return similarity


@dataclass(frozen=True)
class SimilarityTargets:
    """Per-class BCE targets and loss groups, indexed by (is_prototype, class).

    - ``targets``: (2, C, C) float32; ``targets[0, y]`` is the target row of a real sample of
      class y, ``targets[1, u]`` that of a prototype of class u. Rows that cannot occur (real
      rows of unseen classes, prototype rows of seen classes) are NaN and flagged False in
      ``valid_rows``.
    - ``seen_group`` / ``unseen_group``: (2, C) bool; the columns of a real (index 0) or prototype
      (index 1) row that belong to L_S / L_U.
    - ``valid_rows``: (2, C) bool.
    - ``dpsr_enabled``: False → one-hot targets, every entry in ``seen_group`` (one plain BCE).
    """

    targets: np.ndarray
    seen_group: np.ndarray
    unseen_group: np.ndarray
    valid_rows: np.ndarray
    dpsr_enabled: bool

    @property
    def n_classes(self) -> int:
        return int(self.targets.shape[1])

    def gather(
        self, is_prototype: np.ndarray, classes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Targets (B, C) and the L_S / L_U masks (B, C) of a batch of rows."""
        kind = np.asarray(is_prototype, dtype=np.int64)
        classes = np.asarray(classes, dtype=np.int64)
        return self.targets[kind, classes], self.seen_group[kind], self.unseen_group[kind]


def _validate_class_split(
    seen_classes: np.ndarray, unseen_classes: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    seen = np.asarray(seen_classes, dtype=np.int64).ravel()
    unseen = np.asarray(unseen_classes, dtype=np.int64).ravel()
    together = np.concatenate([seen, unseen])
    if (
        len(seen) == 0
        or len(together) != n_classes
        or not np.array_equal(np.sort(together), np.arange(n_classes))
    ):
        raise ValueError(
            "seen_classes, unseen_classes: expected disjoint index sets covering "
            f"0..{n_classes - 1} (with at least one seen class), got {len(seen)} seen and "
            f"{len(unseen)} unseen indices"
        )
    return seen, unseen


def build_target_tables(
    similarity: np.ndarray | None,
    seen_classes: np.ndarray,
    unseen_classes: np.ndarray,
    dpsr_enabled: bool = True,
) -> SimilarityTargets:
    """Target and loss-group tables for the SCC (module docstring: "Targets t_ij").

    ``similarity`` is S̃ (C, C) from :func:`class_similarity`; it may be ``None`` when
    ``dpsr_enabled`` is False. A seen row whose unseen part of S̃ is all zero gets zero targets on
    the unseen columns (no unseen class resembles it).
    """
    if dpsr_enabled:
        similarity = np.asarray(similarity, dtype=np.float64)
        if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
            raise ValueError(f"similarity: expected a square (C, C) matrix, got shape {similarity.shape}")
        n_classes = similarity.shape[0]
    else:
        n_classes = len(np.asarray(seen_classes).ravel()) + len(np.asarray(unseen_classes).ravel())
    seen, unseen = _validate_class_split(seen_classes, unseen_classes, n_classes)
    is_seen = np.zeros(n_classes, dtype=bool)
    is_seen[seen] = True

    targets = np.full((2, n_classes, n_classes), np.nan)
    valid_rows = np.zeros((2, n_classes), dtype=bool)
    valid_rows[REAL, seen] = True
    valid_rows[PROTOTYPE, unseen] = True
    identity = np.eye(n_classes)
    seen_group = np.zeros((2, n_classes), dtype=bool)
    unseen_group = np.zeros((2, n_classes), dtype=bool)

    if not dpsr_enabled:
        targets[REAL, seen] = identity[seen]
        targets[PROTOTYPE, unseen] = identity[unseen]
        seen_group[:] = True
    else:
        real_rows = np.zeros((len(seen), n_classes))
        real_rows[:, seen] = identity[np.ix_(seen, seen)]
        unseen_part = similarity[np.ix_(seen, unseen)]
        unseen_mass = unseen_part.sum(axis=1, keepdims=True)
        real_rows[:, unseen] = np.divide(
            unseen_part, unseen_mass, out=np.zeros_like(unseen_part), where=unseen_mass > 0
        )
        targets[REAL, seen] = real_rows
        prototype_rows = similarity[unseen].copy()
        prototype_rows[np.arange(len(unseen)), unseen] = 1.0
        targets[PROTOTYPE, unseen] = prototype_rows
        seen_group[REAL] = is_seen
        unseen_group[REAL] = ~is_seen
        unseen_group[PROTOTYPE] = True

    return SimilarityTargets(
        targets=targets.astype(np.float32),
        seen_group=seen_group,
        unseen_group=unseen_group,
        valid_rows=valid_rows,
        dpsr_enabled=bool(dpsr_enabled),
    )
