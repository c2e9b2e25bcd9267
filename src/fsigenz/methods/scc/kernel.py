"""The SCC's scoring kernel: f(x_i ⊙ e_j) for all (sample, class) pairs as one GEMM, with its own
backward pass (:class:`PairwiseScorer`) and the buffer pool it reuses between steps
(:class:`ScoringWorkspace`).

f's first layer over all B × C pairs of a batch is one GEMM (B·C × d)·(d × h_f) — the floor of the
training step (docs/method.md, "Cost of the SCC"). :class:`PairwiseScorer` runs the scorer as that
GEMM and nothing else of its size: the fused pairs are written once into a contiguous (B·C, d + 1)
block whose last column is 1 (so f's bias rides in the GEMM, and its gradient comes out of the
weight-gradient GEMM), the ReLU works in place and its backward is one pass, f's 1-unit output
layer stays a matrix-vector product, and the backward pass is the two GEMMs of the same size plus a
reduction over the batch. There is no Python loop over samples or classes. During training and
chunked scoring the large blocks live in a :class:`ScoringWorkspace` reused from step to step: a
fresh 100 MB block costs the kernel tens of thousands of page faults, about as much as every other
element-wise pass of the step together.
"""

from __future__ import annotations

import math

import torch


class ScoringWorkspace:
    """Reusable buffers for :class:`PairwiseScorer` (pair block, hidden block, and the backward
    pass's masked hidden gradient and pair gradient), grown on demand and handed out as contiguous
    leading slices.

    A training step's buffers stay claimed from its forward pass to its backward pass, so a second
    forward in between (or a graph dropped without a backward) gets fresh memory instead of
    overwriting tensors the first one still needs. Only owners that run forward → backward in turn,
    like :meth:`~fsigenz.methods.scc.SemanticContrastiveClassifier.fit`, should share one.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}
        self.claimed = False

    def take(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A contiguous ``shape`` tensor of ``like``'s dtype and device (contents undefined)."""
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if (
            buffer is None
            or buffer.numel() < size
            or buffer.dtype != like.dtype
            or buffer.device != like.device
        ):
            buffer = torch.empty(size, dtype=like.dtype, device=like.device)
            self._buffers[name] = buffer
        return buffer[:size].view(shape)


def _fresh(name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    return torch.empty(shape, dtype=like.dtype, device=like.device)


# cuBLAS runs half-precision GEMMs at full tensor-core speed only on 16-byte aligned rows, so on
# CUDA the pair block's width d + 1 is padded with zero columns to a multiple of 8.
_CUDA_ROW_ALIGNMENT = 8


def _pair_width(feature_dim: int, device: torch.device) -> int:
    width = feature_dim + 1
    if device.type == "cuda":
        width = -(-width // _CUDA_ROW_ALIGNMENT) * _CUDA_ROW_ALIGNMENT
    return width


class PairwiseScorer(torch.autograd.Function):
    """Logits f(x_i ⊙ e_j) = w_o · ReLU(W_h (x_i ⊙ e_j) + b_h) + b_o for all pairs, (B, C).

    Inputs: features x (B, d), class encodings e (C, d), W_h (h, d), b_h (h,), w_o (1, h), b_o (1,),
    all of one dtype, an optional :class:`ScoringWorkspace`, and whether autograd records this call
    (``torch.is_grad_enabled()`` at the call; inside ``forward`` it is always off). With
    P = [x_i ⊙ e_j, 1] the (B·C, d + 1) pair block (zero-padded to a multiple of 8 columns on
    CUDA), H = ReLU(P [W_h b_h]ᵀ) and g = ∂L/∂logits, the backward pass uses G = 1[H > 0] ⊙ g (one
    pass over H; the factor w_o is moved onto the small matrices):

        ∂L/∂[W_h b_h] = diag(w_o) · Gᵀ P        ∂L/∂P = G · diag(w_o) W_h        ∂L/∂w_o = Hᵀ g

    and ∂L/∂e_j = Σ_i x_i ⊙ ∂L/∂P_ij, ∂L/∂x_i = Σ_j e_j ⊙ ∂L/∂P_ij.
    """

    @staticmethod
    def forward(
        ctx,
        features,
        class_embeddings,
        hidden_weight,
        hidden_bias,
        output_weight,
        output_bias,
        workspace=None,
        recorded=True,
    ):
        n_samples, feature_dim = features.shape
        n_classes = class_embeddings.shape[0]
        n_pairs = n_samples * n_classes
        will_save = recorded and any(ctx.needs_input_grad[:6])
        claim = workspace is not None and not workspace.claimed
        take = workspace.take if claim else _fresh
        # The fused pairs, one GEMM row each, with a trailing 1 for the bias (and zero padding).
        width = _pair_width(feature_dim, features.device)
        pairs = take("pairs", (n_samples, n_classes, width), features)
        torch.mul(features.unsqueeze(1), class_embeddings.unsqueeze(0), out=pairs[:, :, :feature_dim])
        pairs[:, :, feature_dim] = 1
        pairs[:, :, feature_dim + 1 :] = 0
        pairs = pairs.view(n_pairs, width)
        padding = hidden_weight.new_zeros(hidden_weight.shape[0], width - feature_dim - 1)
        augmented_weight = torch.cat([hidden_weight, hidden_bias.unsqueeze(1), padding], dim=1)
        hidden = take("hidden", (n_pairs, hidden_weight.shape[0]), features)
        torch.mm(pairs, augmented_weight.t(), out=hidden)
        hidden.relu_()
        logits = torch.mv(hidden, output_weight[0]).add_(output_bias)
        if will_save:
            ctx.save_for_backward(features, class_embeddings, pairs, hidden, hidden_weight, output_weight)
            ctx.workspace = workspace if claim else None
            if claim:
                workspace.claimed = True  # released by backward
        return logits.view(n_samples, n_classes)

    @staticmethod
    def backward(ctx, grad_logits):
        features, class_embeddings, pairs, hidden, hidden_weight, output_weight = ctx.saved_tensors
        workspace = ctx.workspace
        take = workspace.take if workspace is not None else _fresh
        n_samples, feature_dim = features.shape
        n_classes = class_embeddings.shape[0]
        grad = grad_logits.reshape(-1).to(hidden.dtype)
        output_column = output_weight[0].unsqueeze(1)
        with torch.autocast(hidden.device.type, enabled=False):
            grad_output_weight = torch.mv(hidden.t(), grad).unsqueeze(0)
            grad_output_bias = grad.sum().reshape(1)
            # G = 1[H > 0] ⊙ g in one pass (H itself stays intact: a retained graph can run again).
            masked = take("masked_grad", hidden.shape, hidden)
            torch.ops.aten.threshold_backward.grad_input(
                grad.unsqueeze(1).expand_as(hidden), hidden, 0, grad_input=masked
            )
            grad_augmented = torch.mm(masked.t(), pairs).mul_(output_column)
            grad_hidden_weight = grad_augmented[:, :feature_dim]
            grad_hidden_bias = grad_augmented[:, feature_dim]
            grad_features = grad_embeddings = None
            if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
                grad_pairs = take("grad_pairs", (hidden.shape[0], feature_dim), hidden)
                torch.mm(masked, hidden_weight * output_column, out=grad_pairs)
                grad_pairs = grad_pairs.view(n_samples, n_classes, feature_dim)
                if ctx.needs_input_grad[0]:
                    grad_features = (grad_pairs * class_embeddings.unsqueeze(0)).sum(1)
                if ctx.needs_input_grad[1]:
                    grad_embeddings = grad_pairs.mul_(features.unsqueeze(1)).sum(0)
        if workspace is not None:
            workspace.claimed = False
        return (
            grad_features,
            grad_embeddings,
            grad_hidden_weight,
            grad_hidden_bias,
            grad_output_weight,
            grad_output_bias,
            None,
            None,
        )
