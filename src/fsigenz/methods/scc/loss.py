"""The SCC's losses (targets and groups: see ``similarity.py``).

- ``grouped_bce`` (the paper's): L = mean BCE over L_S + β · mean BCE over L_U, every (row, class)
  pair an independent binary decision.
- ``softmax`` [choice, not the paper's]: cross-entropy of a softmax over all classes against the
  DPSR targets turned into a distribution, q ∝ 1[j = y] + β · (t_yj − 1[j = y]): the row's own class
  plus β times its similarity mass (docs/method.md, "The default classifier").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def grouped_bce_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    seen_group: torch.Tensor,
    unseen_group: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """L = mean BCE over the L_S entries + β · mean BCE over the L_U entries of a batch.

    All inputs are (B, C); the groups are 0/1 masks. An empty group contributes 0 (a batch of
    prototypes only has no L_S entry; with DPSR disabled L_U is always empty).
    """
    bce = F.binary_cross_entropy_with_logits(logits.float(), targets, reduction="none")
    seen_loss = (bce * seen_group).sum() / seen_group.sum().clamp_min(1.0)
    unseen_loss = (bce * unseen_group).sum() / unseen_group.sum().clamp_min(1.0)
    return seen_loss + beta * unseen_loss


def soft_target_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, own_class: torch.Tensor, beta: float
) -> torch.Tensor:
    """Mean over rows of −Σ_j q_ij log softmax(logits_i)_j, q_i ∝ e_y + β (t_i − e_y).

    ``logits`` and ``targets`` are (B, C); ``own_class`` (B,) is each row's class y (its one-hot
    e_y is the identity part of the DPSR target row t_i, so t_i − e_y is the similarity part).
    """
    one_hot = F.one_hot(own_class, logits.shape[1]).to(targets.dtype)
    distribution = (one_hot + beta * (targets - one_hot)).clamp_min(0.0)
    distribution = distribution / distribution.sum(dim=1, keepdim=True)
    return -(distribution * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


LOSSES = ("grouped_bce", "softmax")
