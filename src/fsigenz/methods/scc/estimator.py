"""The SCC estimator: training on real seen features and unseen prototypes, and scoring.

``fit`` trains :class:`~.network.SemanticContrastiveNetwork` with :func:`~.loss.grouped_bce_loss`
(optionally replaying the step from a CUDA graph, :mod:`.cuda_graph`) and follows a validation
monitor through :class:`~fsigenz.methods.early_stopping.EarlyStopping`; ``decision_function``
scores in chunks of at most ``score_chunk_size`` (sample, class) pairs, which bounds memory at
about ``score_chunk_size · (d + h_f) · 4`` bytes whatever the number of classes. Training reports its
steps, loss and validation values as stage ``scc`` to the current observer (:mod:`fsigenz.progress`).
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from fsigenz.device import bf16_supported, resolve_device
from fsigenz.methods.early_stopping import MONITORED_LOSS, EarlyStopping, LossHistory
from fsigenz.methods.prototype_scores import ReferenceScores
from fsigenz.methods.scc.cuda_graph import CudaGraphTrainingStep
from fsigenz.methods.scc.kernel import ScoringWorkspace
from fsigenz.methods.scc.loss import LOSSES, grouped_bce_loss, soft_target_cross_entropy
from fsigenz.methods.scc.network import SemanticContrastiveNetwork
from fsigenz.methods.similarity import SimilarityTargets
from fsigenz.progress import training_stage

SCCMonitor = Callable[[int, "SemanticContrastiveClassifier"], Any]
SAMPLINGS = ("uniform", "class_balanced")


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
        Training rows (real samples and prototypes mixed) per step; each row is scored against all
        C classes.
    loss:
        ``"grouped_bce"`` (the paper's: L_S + β L_U over independent pairs) or ``"softmax"``
        (cross-entropy over all classes against the DPSR targets as a distribution), :mod:`.loss`.
    sampling:
        ``"uniform"`` (the paper's: epochs of a seeded permutation of all rows) or
        ``"class_balanced"`` (each step draws rows with replacement so that every class, seen or
        unseen, is equally likely: an unseen class's few prototype rows weigh as much as a seen
        class's many images).
    prototype_variation:
        Give each prototype row, every time it is drawn, the offset of a random real row from its
        class mean (x_j − m_{y_j}): unseen classes are then trained as clouds with the seen
        classes' within-class spread instead of as points [choice, docs/method.md].
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
    run), loss_history_ ``{"classifier": (n_steps_,)}`` per-step training loss, monitor_history_
    list of (step, value), best_step_ / best_score_ (with a numeric monitor); the monitor contract and
    these attributes are those of :mod:`fsigenz.methods.early_stopping`.
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
        loss: str = "grouped_bce",
        sampling: str = "uniform",
        prototype_variation: bool = False,
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
        self.loss = loss
        self.sampling = sampling
        self.prototype_variation = prototype_variation
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
        for name in ("encoder_hidden", "scorer_hidden", "batch_size", "eval_every", "score_chunk_size"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
        if int(self.n_steps) != self.n_steps or self.n_steps < 0:
            raise ValueError(f"n_steps: expected an integer >= 0, got {self.n_steps!r}")
        if self.patience is not None and (int(self.patience) != self.patience or self.patience < 1):
            raise ValueError(f"patience: expected None or an integer >= 1, got {self.patience!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss: expected one of {list(LOSSES)}, got {self.loss!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling: expected one of {list(SAMPLINGS)}, got {self.sampling!r}")
        for name in ("use_bf16", "use_cuda_graph", "prototype_variation"):
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
            raise ValueError(f"features: expected a non-empty (N, d) matrix, got shape {features.shape}")
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
        anchor: ReferenceScores | None = None,
    ) -> SemanticContrastiveClassifier:
        """Train on rows ``features`` (N, d) of class ``sample_classes`` (N,) in 0..C-1.

        ``is_prototype`` (N,) marks prototype rows; ``class_attributes`` is the adjusted A (m, C);
        ``targets`` are the tables of :func:`~fsigenz.methods.similarity.build_target_tables`.
        ``monitor(step, self)`` is called every ``eval_every`` steps; its return values are kept
        in ``monitor_history_``. ``warm_start`` continues from the fitted network (fine-tuning, e.g.
        on classes added after training; the class set may differ) instead of a fresh one.

        ``anchor``: fixed prior logits of a row (the class-reference scores of
        :class:`~fsigenz.methods.prototype_scores.ReferenceScores`) that the network's output is
        added to, in training and in :meth:`decision_function`. The network then learns a
        correction: a fresh network's output layer starts at zero, so before the first step the
        classifier scores exactly the prior, and a monitor is also called at step 0 (the prior
        itself is a candidate for early stopping).
        """
        self._validate_parameters()
        if warm_start and not hasattr(self, "network_"):
            raise RuntimeError("warm_start: the classifier has not been fitted yet")
        with self._threads():
            return self._fit(
                features,
                sample_classes,
                is_prototype,
                class_attributes,
                targets,
                monitor,
                warm_start,
                anchor,
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
        anchor: ReferenceScores | None = None,
    ) -> SemanticContrastiveClassifier:
        features, sample_classes, is_prototype, class_attributes = self._validate_training_rows(
            features, sample_classes, is_prototype, class_attributes, targets
        )
        if anchor is not None and anchor.n_classes != targets.n_classes:
            raise ValueError(
                f"anchor: scores {anchor.n_classes} classes, the target tables {targets.n_classes}"
            )
        self._set_up_network(features, class_attributes, warm_start, residual=anchor is not None)
        self.anchor_ = None if anchor is None else anchor.to(self.device_)
        run_step = self._training_step(features, sample_classes, is_prototype, targets)
        stopping = EarlyStopping(int(self.eval_every), int(self.n_steps), self.patience)
        self.monitor_history_ = stopping.history
        self.best_step_: int | None = None
        self.best_score_: float | None = None
        self.n_steps_ = 0
        losses = torch.zeros(int(self.n_steps), device=self.device_)
        batches = self._batch_order(sample_classes, is_prototype)
        best_state = None

        with training_stage("scc", int(self.n_steps)) as progress:
            if monitor is not None and self.anchor_ is not None:  # step 0: the anchor alone
                self.network_.eval()
                self.loss_history_ = {MONITORED_LOSS: np.zeros(0, dtype=np.float32)}
                value = monitor(0, self)
                stopping.record(0, value)
                progress.evaluation(0, value)
                self.best_step_, self.best_score_ = stopping.best_step, stopping.best_score
                if self.restore_best and self.best_step_ == 0:
                    best_state = copy.deepcopy(self.network_.state_dict())
            self.network_.train()
            for step in range(1, int(self.n_steps) + 1):
                losses[step - 1] = run_step(next(batches))
                self.n_steps_ = step
                progress.step(step, loss=losses[step - 1])
                if monitor is not None and stopping.due(step):
                    self.loss_history_ = {MONITORED_LOSS: losses[:step].cpu().numpy()}
                    value = monitor(step, self)
                    self.network_.train()
                    improved = stopping.record(step, value)
                    progress.evaluation(step, value)
                    self.best_step_, self.best_score_ = stopping.best_step, stopping.best_score
                    if improved and self.restore_best:
                        best_state = copy.deepcopy(self.network_.state_dict())
                    if stopping.should_stop:
                        break

        self.loss_history_: LossHistory = {MONITORED_LOSS: losses[: self.n_steps_].cpu().numpy()}
        self.cuda_graph_batch_lengths_ = (
            run_step.captured_batch_lengths if isinstance(run_step, CudaGraphTrainingStep) else []
        )
        if best_state is not None:
            self.network_.load_state_dict(best_state)
        self.network_.eval()
        return self

    def _set_up_network(
        self, features: np.ndarray, class_attributes: np.ndarray, warm_start: bool, residual: bool
    ) -> None:
        """Resolve the device and precision; build a fresh network (seeded) unless warm-starting;
        a ``residual`` network (added to prior logits) starts with a zero output layer."""
        self.device_ = resolve_device(self.device)
        self.use_bf16_ = bool(self.use_bf16) and bf16_supported(self.device_)
        if self.use_bf16 and not self.use_bf16_:
            warnings.warn(
                f"use_bf16: bfloat16 is not supported on {self.device_}; training in float32",
                stacklevel=4,
            )
        self.class_attributes_ = np.ascontiguousarray(class_attributes)
        self.n_features_in_ = int(features.shape[1])
        if not warm_start:
            with torch.random.fork_rng(devices=[]):
                torch.random.default_generator.manual_seed(int(self.seed))
                self.network_ = SemanticContrastiveNetwork(
                    n_attributes=class_attributes.shape[0],
                    feature_dim=features.shape[1],
                    encoder_hidden=int(self.encoder_hidden),
                    scorer_hidden=int(self.scorer_hidden),
                    negative_slope=float(self.negative_slope),
                )
                if residual:
                    nn.init.zeros_(self.network_.scorer_output.weight)
                    nn.init.zeros_(self.network_.scorer_output.bias)
        self.network_ = self.network_.to(self.device_)
        self.loss_history_ = {MONITORED_LOSS: np.zeros(0, dtype=np.float32)}

    def _training_step(
        self,
        features: np.ndarray,
        sample_classes: np.ndarray,
        is_prototype: np.ndarray,
        targets: SimilarityTargets,
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """``step(batch)``: one Adam step on the rows ``batch``, returning the detached loss —
        replayed from a CUDA graph when ``use_cuda_graph`` on CUDA."""
        device = self.device_
        rows = torch.from_numpy(features).to(device)
        row_kinds = torch.from_numpy(is_prototype.astype(np.int64)).to(device)
        row_classes = torch.from_numpy(sample_classes).to(device)
        target_table = torch.from_numpy(targets.targets).to(device)
        seen_group = torch.from_numpy(targets.seen_group.astype(np.float32)).to(device)
        unseen_group = torch.from_numpy(targets.unseen_group.astype(np.float32)).to(device)
        class_rows = self._class_rows(None)
        offsets = None
        if self.prototype_variation:
            offsets = torch.from_numpy(_offsets_from_class_means(features, sample_classes, is_prototype)).to(
                device
            )
        anchor = self.anchor_
        use_graph = device.type == "cuda" and bool(getattr(self, "use_cuda_graph", False))
        optimizer = torch.optim.Adam(
            self.network_.parameters(),
            lr=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            capturable=use_graph,
        )
        workspace = ScoringWorkspace()  # the step's large blocks, reused from step to step

        def train_on(batch: torch.Tensor) -> torch.Tensor:
            """One optimiser step on the rows ``batch`` (gradients already cleared); a (B, 2)
            batch pairs each row with the real row whose offset a prototype row borrows."""
            if batch.dim() == 2:
                batch, donors = batch[:, 0], batch[:, 1]
            kinds, classes = row_kinds[batch], row_classes[batch]
            inputs = rows[batch]
            if self.prototype_variation:
                inputs = inputs + kinds[:, None].to(inputs.dtype) * offsets[donors]
            with self._autocast():
                logits = self.network_(inputs, class_rows, workspace)
            if anchor is not None:
                logits = logits.float() + anchor(inputs)
            if self.loss == "softmax":
                loss = soft_target_cross_entropy(
                    logits, target_table[kinds, classes], classes, float(self.beta)
                )
            else:
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

        if use_graph:
            return CudaGraphTrainingStep(train_on, optimizer)

        def eager_step(batch: torch.Tensor) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            return train_on(batch)

        return eager_step

    def _batch_order(self, sample_classes: np.ndarray, is_prototype: np.ndarray) -> Iterator[torch.Tensor]:
        """Batches of row indices on the device. ``uniform``: epochs of a seeded permutation,
        ``batch_size`` rows at a time (the last batch of an epoch may be shorter).
        ``class_balanced``: ``batch_size`` rows drawn with replacement, row i with probability
        1 / (C_present · n_class(i)), so every class present is equally likely. With
        ``prototype_variation`` each batch is (B, 2): the rows and, per row, a random real row."""
        order_generator = torch.Generator().manual_seed(int(self.seed))
        n_rows = sample_classes.shape[0]
        batch_size = min(int(self.batch_size), n_rows)
        real_rows = torch.from_numpy(np.flatnonzero(~is_prototype))
        for batch in self._row_batches(sample_classes, batch_size, order_generator):
            if self.prototype_variation:
                drawn = torch.randint(len(real_rows), (len(batch),), generator=order_generator)
                batch = torch.stack([batch, real_rows[drawn]], dim=1)
            yield batch.to(self.device_)

    def _row_batches(
        self, sample_classes: np.ndarray, batch_size: int, order_generator: torch.Generator
    ) -> Iterator[torch.Tensor]:
        n_rows = sample_classes.shape[0]
        if self.sampling == "class_balanced":
            class_sizes = np.bincount(sample_classes)
            weights = torch.from_numpy(1.0 / class_sizes[sample_classes])
            while True:
                yield torch.multinomial(weights, batch_size, replacement=True, generator=order_generator)
        while True:
            order = torch.randperm(n_rows, generator=order_generator)
            for position in range(0, n_rows, batch_size):
                yield order[position : position + batch_size]

    # ------------------------------------------------------------------ inference
    def decision_function(
        self,
        features: np.ndarray,
        class_attributes: np.ndarray | None = None,
        anchor: ReferenceScores | None = None,
    ) -> np.ndarray:
        """Logits (N, C) float32 of ``features`` (N, d) against the training classes, or against the
        columns of ``class_attributes`` (m, C') — already adjusted — when given; plus the anchor's
        scores when the classifier was fitted with one (``anchor`` replaces the fitted one, and
        must be given with ``class_attributes``: it scores the same C' classes)."""
        if not hasattr(self, "network_"):
            raise RuntimeError("SemanticContrastiveClassifier.decision_function called before fit")
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.n_features_in_:
            raise ValueError(f"features: expected (N, {self.n_features_in_}), got shape {features.shape}")
        if anchor is None and class_attributes is not None and getattr(self, "anchor_", None) is not None:
            raise ValueError("anchor: scoring other classes than the fitted ones needs their anchor")
        anchor = anchor if anchor is not None else getattr(self, "anchor_", None)
        if anchor is not None:
            anchor = anchor.to(self.device_)
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
                    prior = None if anchor is None else anchor(block).float()
                    for class_start in range(0, n_classes, class_chunk):
                        class_stop = min(class_start + class_chunk, n_classes)
                        logits = self.network_.score(block, embeddings[class_start:class_stop], workspace)
                        logits = logits.float()
                        if prior is not None:
                            logits = logits + prior[:, class_start:class_stop]
                        scores[start:stop, class_start:class_stop] = logits.cpu().numpy()
        finally:
            self.network_.train(was_training)
        return scores


def _offsets_from_class_means(
    features: np.ndarray, sample_classes: np.ndarray, is_prototype: np.ndarray
) -> np.ndarray:
    """(N, d) float32: each real row minus the mean of its class's real rows (0 for prototypes)."""
    real = ~is_prototype
    n_classes = int(sample_classes.max()) + 1
    sums = np.zeros((n_classes, features.shape[1]))
    np.add.at(sums, sample_classes[real], features[real])
    counts = np.maximum(np.bincount(sample_classes[real], minlength=n_classes), 1)
    offsets = np.zeros_like(features)
    offsets[real] = features[real] - (sums / counts[:, None])[sample_classes[real]]
    return offsets


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
