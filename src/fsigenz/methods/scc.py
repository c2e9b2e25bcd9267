"""Semantic-aware Contrastive Classifier (SCC, the TCN architecture), method notes "Phase 2".

    E(a)  = LeakyReLU(W2 · LeakyReLU(W1 a))          semantic encoder, m → h_e → d
    z_ij  = x_i ⊙ E(a_j)                              fusion of sample i with class j
    c_ij  = σ(f(z_ij)),  f = Linear(d→h_f) → ReLU → Linear(h_f→1)

The network returns the logits f(z_ij); the sigmoid lives inside the BCE-with-logits loss

    L = mean BCE over L_S + β · mean BCE over L_U                 (groups: see ``similarity.py``)

Cost: f's first layer over all B × C pairs of a batch is one GEMM (B·C × d)·(d × h_f) — the floor
of the training step (docs/method.md, "Cost of the SCC"). :class:`PairwiseScorer` runs the scorer as
that GEMM and nothing else of its size: the class encodings are computed once per batch, the fused
pairs are written once into a contiguous (B·C, d + 1) block whose last column is 1 (so f's bias
rides in the GEMM, and its gradient comes out of the weight-gradient GEMM), the ReLU works in place
and its backward is one pass, f's 1-unit output layer stays a matrix-vector product, and the
backward pass is the two GEMMs of the same size plus a reduction over the batch. There is no
Python loop over samples or classes. During training and chunked scoring the large blocks live in a
:class:`ScoringWorkspace` reused from step to step: a fresh 100 MB block costs the kernel tens of
thousands of page faults, about as much as every other element-wise pass of the step together.
Evaluation scores in chunks of at most ``score_chunk_size`` (sample, class) pairs, which bounds
memory at about ``score_chunk_size · (d + h_f) · 4`` bytes whatever the number of classes.

On CUDA a training step is some hundred small kernels whose launch cost, not the GEMM, bounds it at
the batch sizes used for training; :class:`CudaGraphTrainingStep` records the whole step (batch
gather, forward, loss, backward, Adam) once as a CUDA graph and replays it.
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fsigenz.methods.similarity import SimilarityTargets

SCCMonitor = Callable[[int, "SemanticContrastiveClassifier"], Any]


class ScoringWorkspace:
    """Reusable buffers for :class:`PairwiseScorer` (pair block, hidden block, and the backward
    pass's masked hidden gradient and pair gradient), grown on demand and handed out as contiguous
    leading slices.

    A training step's buffers stay claimed from its forward pass to its backward pass, so a second
    forward in between (or a graph dropped without a backward) gets fresh memory instead of
    overwriting tensors the first one still needs. Only owners that run forward → backward in turn,
    like :meth:`SemanticContrastiveClassifier.fit`, should share one.
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
    def forward(ctx, features, class_embeddings, hidden_weight, hidden_bias, output_weight,
                output_bias, workspace=None, recorded=True):
        n_samples, feature_dim = features.shape
        n_classes = class_embeddings.shape[0]
        n_pairs = n_samples * n_classes
        will_save = recorded and any(ctx.needs_input_grad[:6])
        claim = workspace is not None and not workspace.claimed
        take = workspace.take if claim else _fresh
        # The fused pairs, one GEMM row each, with a trailing 1 for the bias (and zero padding).
        width = _pair_width(feature_dim, features.device)
        pairs = take("pairs", (n_samples, n_classes, width), features)
        torch.mul(
            features.unsqueeze(1), class_embeddings.unsqueeze(0), out=pairs[:, :, :feature_dim]
        )
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
            ctx.save_for_backward(
                features, class_embeddings, pairs, hidden, hidden_weight, output_weight
            )
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
        return (grad_features, grad_embeddings, grad_hidden_weight, grad_hidden_bias,
                grad_output_weight, grad_output_bias, None, None)


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
            features, class_embeddings,
            self.scorer_hidden.weight, self.scorer_hidden.bias,
            self.scorer_output.weight, self.scorer_output.bias,
        )
        with torch.autocast(device_type, enabled=False):
            return PairwiseScorer.apply(
                *(t.to(dtype) for t in inputs), workspace, torch.is_grad_enabled()
            )

    def forward(
        self,
        features: torch.Tensor,
        class_attributes: torch.Tensor,
        workspace: ScoringWorkspace | None = None,
    ) -> torch.Tensor:
        """Logits (B, C) for features (B, d) against class attribute rows (C, m)."""
        return self.score(features, self.encode_classes(class_attributes), workspace)


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


CUDA_GRAPH_WARMUP_STEPS = 3  # eager steps of each batch length before its graph is captured


class CudaGraphTrainingStep:
    """Run ``train_on(batch)`` (one optimiser step on the row indices ``batch``, returning the
    detached loss) eagerly for the first :data:`CUDA_GRAPH_WARMUP_STEPS` steps of each batch
    length, then capture it as a CUDA graph and replay that graph from then on.

    The steps run before a capture are ordinary training steps (on a side stream, as CUDA graph
    capture requires), so a run takes the same steps in the same order whether or not it is
    captured. A graph replays the kernels it recorded on the tensors it recorded: the batch indices
    are copied into the graph's own index tensor, and ``train_on`` must read everything else from
    tensors that outlive the graph (the parameters, the optimiser's state — Adam needs
    ``capturable=True`` — and the data). Each batch length (a full batch, and the shorter last batch
    of an epoch) gets its own graph and memory pool; the gradients a graph allocated during capture
    are kept alive with it.
    """

    def __init__(
        self,
        train_on: Callable[[torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = CUDA_GRAPH_WARMUP_STEPS,
    ) -> None:
        self._train_on = train_on
        self._optimizer = optimizer
        self._warmup_steps = warmup_steps
        self._eager_steps: dict[int, int] = {}
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor, list]] = {}
        self._side_stream = torch.cuda.Stream()

    @property
    def captured_batch_lengths(self) -> list[int]:
        return sorted(self._graphs)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        length = int(batch.shape[0])
        if length not in self._graphs:
            if self._eager_steps.get(length, 0) < self._warmup_steps:
                self._eager_steps[length] = self._eager_steps.get(length, 0) + 1
                return self._eager(batch)
            self._capture(batch)
        graph, static_batch, static_loss, _ = self._graphs[length]
        static_batch.copy_(batch)
        graph.replay()
        return static_loss

    def _eager(self, batch: torch.Tensor) -> torch.Tensor:
        current = torch.cuda.current_stream()
        self._side_stream.wait_stream(current)
        with torch.cuda.stream(self._side_stream):
            self._optimizer.zero_grad(set_to_none=True)
            loss = self._train_on(batch)
        current.wait_stream(self._side_stream)
        return loss

    def _capture(self, batch: torch.Tensor) -> None:
        static_batch = batch.clone()
        self._optimizer.zero_grad(set_to_none=True)  # the graph allocates (and owns) its gradients
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_loss = self._train_on(static_batch)
        gradients = [p.grad for group in self._optimizer.param_groups for p in group["params"]]
        self._graphs[int(batch.shape[0])] = (graph, static_batch, static_loss, gradients)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def bf16_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast runs natively on ``device``."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


class SemanticContrastiveClassifier:
    """Train and apply the SCC on real seen features and unseen prototypes.

    Parameters
    ----------
    encoder_hidden, scorer_hidden:
        h_e and h_f.
    negative_slope:
        Slope of the encoder's LeakyReLUs.
    beta:
        β, the weight of the L_U group in the loss.
    learning_rate, weight_decay:
        Adam settings.
    batch_size:
        Training rows (real samples and prototypes mixed, drawn uniformly without replacement per
        epoch) per step; each row is scored against all C classes.
    n_steps:
        Optimiser steps (the training length; choose it on validation through ``monitor``).
    eval_every:
        ``monitor(step, self)`` is called every ``eval_every`` steps and after the last step.
    restore_best:
        With a monitor returning numbers (higher is better), reload the weights of the best call
        after training.
    patience:
        With a monitor, stop after this many calls without improvement (``None``: never).
    seed:
        Seeds weight initialisation and batch order; same seed, same device → same run (bit for bit
        on CPU).
    device:
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...
    use_bf16:
        bfloat16 autocast for the network (CUDA, or CPU with native bf16); falls back to float32
        with a warning where unsupported. The loss is always computed in float32.
    use_cuda_graph:
        On CUDA, record the training step once as a CUDA graph and replay it
        (:class:`CudaGraphTrainingStep`); the same steps, without the per-kernel launch cost that
        otherwise bounds a step at training batch sizes. Ignored on CPU.
    score_chunk_size:
        Most (sample, class) pairs scored at once by :meth:`decision_function`.
    num_threads:
        Torch intra-op (CPU) threads during ``fit`` and ``decision_function``, restored afterwards;
        ``None`` keeps torch's setting, which defaults to one thread per physical core — the best
        choice for these GEMMs.

    Fitted attributes
    -----------------
    network_, device_, use_bf16_ (effective), cuda_graph_batch_lengths_ (batch lengths whose training
    step was replayed from a CUDA graph; empty on CPU), class_attributes_ (m, C) float32, n_steps_ (steps
    run), loss_history_ (n_steps_,) per-step training loss, monitor_history_ list of (step, value),
    best_step_ / best_score_ (with a numeric monitor).
    """

    def __init__(
        self,
        encoder_hidden: int = 1024,
        scorer_hidden: int = 1024,
        negative_slope: float = 0.2,
        beta: float = 0.2,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 128,
        n_steps: int = 500,
        eval_every: int = 50,
        restore_best: bool = False,
        patience: int | None = None,
        seed: int = 0,
        device: str = "auto",
        use_bf16: bool = False,
        use_cuda_graph: bool = True,
        score_chunk_size: int = 16_384,
        num_threads: int | None = None,
    ) -> None:
        self.encoder_hidden = encoder_hidden
        self.scorer_hidden = scorer_hidden
        self.negative_slope = negative_slope
        self.beta = beta
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.n_steps = n_steps
        self.eval_every = eval_every
        self.restore_best = restore_best
        self.patience = patience
        self.seed = seed
        self.device = device
        self.use_bf16 = use_bf16
        self.use_cuda_graph = use_cuda_graph
        self.score_chunk_size = score_chunk_size
        self.num_threads = num_threads

    # ------------------------------------------------------------------ validation
    def _validate_parameters(self) -> None:
        for name in (
            "encoder_hidden", "scorer_hidden", "batch_size", "eval_every", "score_chunk_size"
        ):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
        if int(self.n_steps) != self.n_steps or self.n_steps < 0:
            raise ValueError(f"n_steps: expected an integer >= 0, got {self.n_steps!r}")
        if self.patience is not None and (int(self.patience) != self.patience or self.patience < 1):
            raise ValueError(f"patience: expected None or an integer >= 1, got {self.patience!r}")
        for name in ("use_bf16", "use_cuda_graph"):
            if not isinstance(getattr(self, name, False), (bool, np.bool_)):
                raise ValueError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        threads = self.num_threads
        if threads is not None and (int(threads) != threads or threads < 1):
            raise ValueError(f"num_threads: expected None or an integer >= 1, got {threads!r}")

    @staticmethod
    def _validate_training_rows(
        features: np.ndarray,
        sample_classes: np.ndarray,
        is_prototype: np.ndarray,
        class_attributes: np.ndarray,
        targets: SimilarityTargets,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(
                f"features: expected a non-empty (N, d) matrix, got shape {features.shape}"
            )
        n_rows = features.shape[0]
        sample_classes = np.asarray(sample_classes)
        if sample_classes.shape != (n_rows,) or not np.issubdtype(sample_classes.dtype, np.integer):
            raise ValueError(
                f"sample_classes: expected ({n_rows},) integer class indices matching features, "
                f"got shape {sample_classes.shape} dtype {sample_classes.dtype}"
            )
        is_prototype = np.asarray(is_prototype)
        if is_prototype.shape != (n_rows,):
            raise ValueError(
                f"is_prototype: expected ({n_rows},) booleans matching features, got shape "
                f"{is_prototype.shape}"
            )
        is_prototype = is_prototype.astype(bool)
        class_attributes = np.asarray(class_attributes, dtype=np.float32)
        n_classes = targets.n_classes
        if class_attributes.ndim != 2 or class_attributes.shape[1] != n_classes:
            raise ValueError(
                f"class_attributes: expected (m, {n_classes}), one column per class of the target "
                f"tables, got shape {class_attributes.shape}"
            )
        if sample_classes.min() < 0 or sample_classes.max() >= n_classes:
            raise ValueError(
                f"sample_classes: expected indices in 0..{n_classes - 1}, got range "
                f"[{sample_classes.min()}, {sample_classes.max()}]"
            )
        valid = targets.valid_rows[is_prototype.astype(np.int64), sample_classes]
        if not np.all(valid):
            first = int(np.flatnonzero(~valid)[0])
            kind = "prototype" if is_prototype[first] else "real sample"
            raise ValueError(
                f"sample_classes, is_prototype: row {first} is a {kind} of class "
                f"{int(sample_classes[first])}, which the target tables do not allow (real samples "
                "must be of seen classes, prototypes of unseen classes)"
            )
        return features, sample_classes.astype(np.int64), is_prototype, class_attributes

    def _class_rows(self, class_attributes: np.ndarray | None) -> torch.Tensor:
        if class_attributes is None:
            attributes = self.class_attributes_
        else:
            attributes = np.asarray(class_attributes, dtype=np.float32)
            n_attributes = self.class_attributes_.shape[0]
            if attributes.ndim != 2 or attributes.shape[0] != n_attributes:
                raise ValueError(
                    f"class_attributes: expected ({n_attributes}, C), one column per class, "
                    f"got shape {attributes.shape}"
                )
        return torch.from_numpy(np.ascontiguousarray(attributes.T)).to(self.device_)

    def _threads(self) -> contextlib.AbstractContextManager:
        # getattr: estimators pickled before the option existed
        return _torch_threads(getattr(self, "num_threads", None))

    def _autocast(self) -> torch.autocast:
        # No weight-cast cache: each weight is cast once per step anyway, and a cache filled
        # inside a CUDA graph capture would hold graph-owned memory.
        return torch.autocast(
            device_type=self.device_.type,
            dtype=torch.bfloat16,
            enabled=self.use_bf16_,
            cache_enabled=False,
        )

    # ------------------------------------------------------------------ training
    def fit(
        self,
        features: np.ndarray,
        sample_classes: np.ndarray,
        is_prototype: np.ndarray,
        class_attributes: np.ndarray,
        targets: SimilarityTargets,
        monitor: SCCMonitor | None = None,
        warm_start: bool = False,
    ) -> "SemanticContrastiveClassifier":
        """Train on rows ``features`` (N, d) of class ``sample_classes`` (N,) in 0..C-1.

        ``is_prototype`` (N,) marks prototype rows; ``class_attributes`` is the adjusted A (m, C);
        ``targets`` are the tables of :func:`~fsigenz.methods.similarity.build_target_tables`.
        ``monitor(step, self)`` is called every ``eval_every`` steps; its return values are kept
        in ``monitor_history_``. ``warm_start`` continues from the fitted network (fine-tuning, e.g.
        on classes added after training; the class set may differ) instead of a fresh one.
        """
        self._validate_parameters()
        if warm_start and not hasattr(self, "network_"):
            raise RuntimeError("warm_start: the classifier has not been fitted yet")
        with self._threads():
            return self._fit(
                features, sample_classes, is_prototype, class_attributes, targets, monitor, warm_start
            )

    def _fit(
        self,
        features: np.ndarray,
        sample_classes: np.ndarray,
        is_prototype: np.ndarray,
        class_attributes: np.ndarray,
        targets: SimilarityTargets,
        monitor: SCCMonitor | None,
        warm_start: bool = False,
    ) -> "SemanticContrastiveClassifier":
        features, sample_classes, is_prototype, class_attributes = self._validate_training_rows(
            features, sample_classes, is_prototype, class_attributes, targets
        )
        self.device_ = resolve_device(self.device)
        self.use_bf16_ = bool(self.use_bf16) and bf16_supported(self.device_)
        if self.use_bf16 and not self.use_bf16_:
            warnings.warn(
                f"use_bf16: bfloat16 is not supported on {self.device_}; training in float32",
                stacklevel=2,
            )
        self.class_attributes_ = np.ascontiguousarray(class_attributes)
        self.n_features_in_ = int(features.shape[1])

        if not warm_start:
            with torch.random.fork_rng(devices=[]):
                torch.random.default_generator.manual_seed(int(self.seed))
                network = SemanticContrastiveNetwork(
                    n_attributes=class_attributes.shape[0],
                    feature_dim=features.shape[1],
                    encoder_hidden=int(self.encoder_hidden),
                    scorer_hidden=int(self.scorer_hidden),
                    negative_slope=float(self.negative_slope),
                )
            self.network_ = network
        self.network_ = self.network_.to(self.device_)
        self.loss_history_ = np.zeros(0, dtype=np.float32)
        self.monitor_history_: list[tuple[int, Any]] = []
        self.best_step_: int | None = None
        self.best_score_: float | None = None
        self.n_steps_ = 0

        device = self.device_
        rows = torch.from_numpy(features).to(device)
        row_kinds = torch.from_numpy(is_prototype.astype(np.int64)).to(device)
        row_classes = torch.from_numpy(sample_classes).to(device)
        target_table = torch.from_numpy(targets.targets).to(device)
        seen_group = torch.from_numpy(targets.seen_group.astype(np.float32)).to(device)
        unseen_group = torch.from_numpy(targets.unseen_group.astype(np.float32)).to(device)
        class_rows = self._class_rows(None)
        use_graph = device.type == "cuda" and bool(getattr(self, "use_cuda_graph", False))
        optimizer = torch.optim.Adam(
            self.network_.parameters(),
            lr=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            capturable=use_graph,
        )
        order_generator = torch.Generator().manual_seed(int(self.seed))
        losses = torch.zeros(int(self.n_steps), device=device)
        n_rows = rows.shape[0]
        batch_size = min(int(self.batch_size), n_rows)
        order = torch.empty(0, dtype=torch.int64)
        position = 0
        best_state = None
        calls_without_improvement = 0
        workspace = ScoringWorkspace()  # the step's large blocks, reused from step to step

        def train_on(batch: torch.Tensor) -> torch.Tensor:
            """One optimiser step on the rows ``batch`` (gradients already cleared)."""
            kinds, classes = row_kinds[batch], row_classes[batch]
            with self._autocast():
                logits = self.network_(rows[batch], class_rows, workspace)
            loss = grouped_bce_loss(
                logits,
                target_table[kinds, classes],
                seen_group[kinds],
                unseen_group[kinds],
                float(self.beta),
            )
            loss.backward()
            optimizer.step()
            return loss.detach()

        def eager_step(batch: torch.Tensor) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            return train_on(batch)

        run_step = CudaGraphTrainingStep(train_on, optimizer) if use_graph else eager_step

        self.network_.train()
        for step in range(1, int(self.n_steps) + 1):
            if position >= n_rows:
                position = 0
            if position == 0:
                order = torch.randperm(n_rows, generator=order_generator).to(device)
            batch = order[position : position + batch_size]
            position += batch_size

            losses[step - 1] = run_step(batch)
            self.n_steps_ = step

            evaluate_now = step % int(self.eval_every) == 0 or step == int(self.n_steps)
            if monitor is not None and evaluate_now:
                self.loss_history_ = losses[:step].cpu().numpy()
                value = monitor(step, self)
                self.network_.train()
                self.monitor_history_.append((step, value))
                improved = _is_number(value) and (
                    self.best_score_ is None or float(value) > self.best_score_
                )
                if improved:
                    self.best_score_, self.best_step_ = float(value), step
                    calls_without_improvement = 0
                    if self.restore_best:
                        best_state = copy.deepcopy(self.network_.state_dict())
                elif _is_number(value):
                    calls_without_improvement += 1
                    if self.patience is not None and calls_without_improvement >= self.patience:
                        break

        self.loss_history_ = losses[: self.n_steps_].cpu().numpy()
        self.cuda_graph_batch_lengths_ = (
            run_step.captured_batch_lengths if isinstance(run_step, CudaGraphTrainingStep) else []
        )
        if best_state is not None:
            self.network_.load_state_dict(best_state)
        self.network_.eval()
        return self

    # ------------------------------------------------------------------ inference
    def decision_function(
        self, features: np.ndarray, class_attributes: np.ndarray | None = None
    ) -> np.ndarray:
        """Logits (N, C) float32 of ``features`` (N, d) against the training classes, or against the
        columns of ``class_attributes`` (m, C') — already adjusted — when given."""
        if not hasattr(self, "network_"):
            raise RuntimeError("SemanticContrastiveClassifier.decision_function called before fit")
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"features: expected (N, {self.n_features_in_}), got shape {features.shape}"
            )
        was_training = self.network_.training
        self.network_.eval()
        workspace = ScoringWorkspace()  # one set of chunk-sized blocks for every chunk
        try:
            with self._threads(), torch.inference_mode(), self._autocast():
                class_rows = self._class_rows(class_attributes)
                embeddings = self.network_.encode_classes(class_rows)
                n_samples, n_classes = features.shape[0], embeddings.shape[0]
                chunk = int(self.score_chunk_size)
                sample_chunk = max(1, chunk // n_classes)
                class_chunk = min(n_classes, chunk)
                scores = np.empty((n_samples, n_classes), dtype=np.float32)
                for start in range(0, n_samples, sample_chunk):
                    stop = min(start + sample_chunk, n_samples)
                    block = torch.from_numpy(features[start:stop]).to(self.device_)
                    for class_start in range(0, n_classes, class_chunk):
                        class_stop = min(class_start + class_chunk, n_classes)
                        logits = self.network_.score(
                            block, embeddings[class_start:class_stop], workspace
                        )
                        scores[start:stop, class_start:class_stop] = logits.float().cpu().numpy()
        finally:
            self.network_.train(was_training)
        return scores


@contextlib.contextmanager
def _torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run with ``n_threads`` torch intra-op threads (``None``: leave the setting alone)."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
