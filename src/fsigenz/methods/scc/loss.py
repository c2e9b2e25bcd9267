"""The SCC's loss: L = mean BCE over L_S + β · mean BCE over L_U (groups: see ``similarity.py``)."""

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
