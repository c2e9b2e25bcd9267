"""The SCC network (TCN architecture), method notes "Phase 2".

    E(a)  = LeakyReLU(W2 · LeakyReLU(W1 a))          semantic encoder, m → h_e → d
    z_ij  = x_i ⊙ E(a_j)                              fusion of sample i with class j
    c_ij  = σ(f(z_ij)),  f = Linear(d→h_f) → ReLU → Linear(h_f→1)

The network returns the logits f(z_ij) (the sigmoid lives in the loss, :mod:`.loss`); the class
encodings are computed once per batch and the scorer runs as :class:`~.kernel.PairwiseScorer`.
"""

from __future__ import annotations

import torch
from torch import nn

from fsigenz.methods.scc.kernel import PairwiseScorer, ScoringWorkspace


class SemanticContrastiveNetwork(nn.Module):
    """The SCC network: semantic encoder, Hadamard fusion, two-layer scorer; logits (B, C)."""

    def __init__(
        self,
        n_attributes: int,
        feature_dim: int,
        encoder_hidden: int = 1024,
        scorer_hidden: int = 1024,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_attributes, encoder_hidden),
            nn.LeakyReLU(negative_slope),
            nn.Linear(encoder_hidden, feature_dim),
            nn.LeakyReLU(negative_slope),
        )
        self.scorer_hidden = nn.Linear(feature_dim, scorer_hidden)
        self.scorer_output = nn.Linear(scorer_hidden, 1)

    def encode_classes(self, class_attributes: torch.Tensor) -> torch.Tensor:
        """E(a_j) for every class: (C, m) attribute rows → (C, d)."""
        return self.encoder(class_attributes)

    def score(
        self,
        features: torch.Tensor,
        class_embeddings: torch.Tensor,
        workspace: ScoringWorkspace | None = None,
    ) -> torch.Tensor:
        """Logits f(x_i ⊙ E(a_j)) for features (B, d) and class encodings (C, d) → (B, C).

        Under autocast the scorer runs in the autocast dtype (its inputs are cast once, here).
        """
        device_type = features.device.type
        dtype = torch.float32
        if torch.is_autocast_enabled(device_type):
            dtype = torch.get_autocast_dtype(device_type)
        inputs = (
            features,
            class_embeddings,
            self.scorer_hidden.weight,
            self.scorer_hidden.bias,
            self.scorer_output.weight,
            self.scorer_output.bias,
        )
        with torch.autocast(device_type, enabled=False):
            return PairwiseScorer.apply(*(t.to(dtype) for t in inputs), workspace, torch.is_grad_enabled())

    def forward(
        self,
        features: torch.Tensor,
        class_attributes: torch.Tensor,
        workspace: ScoringWorkspace | None = None,
    ) -> torch.Tensor:
        """Logits (B, C) for features (B, d) against class attribute rows (C, m)."""
        return self.score(features, self.encode_classes(class_attributes), workspace)
