"""CADA-VAE baseline: two VAEs aligned in one latent space, and a softmax classifier in that space.

Schönfeld et al., "Generalized Zero- and Few-Shot Learning via Aligned Variational Autoencoders", CVPR 2019.

- a feature VAE (encoder E₁: x → (μ₁, log σ₁²), decoder D₁: z → x̂) and an attribute VAE
  (E₂: a → (μ₂, log σ₂²), D₂: z → â), each with one hidden ReLU layer and a latent of ``latent_dim``;
- the loss of a batch of (x, a_y) pairs, summed over the batch as in the paper's code, z_i ~ N(μ_i, σ_i²):

      L = |x − D₁(z₁)|₁ + |a − D₂(z₂)|₁ + β (KL₁ + KL₂)                 (VAE)
        + γ (|x − D₁(z₂)|₁ + |a − D₂(z₁)|₁)                             (cross-reconstruction, CA)
        + δ √(‖μ₁ − μ₂‖² + ‖σ₁ − σ₂‖²)                                  (distribution alignment, DA:
                                                                        2-Wasserstein of the two Gaussians)

  with the published warm-ups of the three weights: β rises linearly from 0 to 0.25 over epochs 0–93,
  γ from 0 to 2.37 over epochs 21–75, δ from 0 to 8.13 over epochs 6–22 (of 100). Each window here is
  a fraction of ``epochs`` (``kl_warmup``, ``cross_reconstruction_warmup``,
  ``distribution_alignment_warmup``), so ``epochs=100`` is the paper's schedule exactly and a shorter
  CPU schedule keeps its shape;
- the GZSL classifier is a softmax over all C classes in the latent space, trained on
  ``n_latent_per_seen_class`` latent samples z₁ of real seen features and ``n_latent_per_unseen_class``
  latent samples z₂ of each unseen class's attributes (paper: 200 and 400); a test feature is scored at
  its latent mean μ₁(x), as the paper's code does.

Its training length (``classifier_steps``) is chosen on validation by the project's early-stopping
contract (``monitor``), through the softmax trainer the f-CLSWGAN-style baseline uses. Features are
centred (optionally L2-normalised) by :class:`~fsigenz.methods.preprocessing.FeatureCentering`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from fsigenz.device import resolve_device, synchronize
from fsigenz.methods.base import Monitor, ZeroShotTask
from fsigenz.methods.early_stopping import MONITORED_LOSS, EarlyStopping, LossHistory
from fsigenz.methods.fclswgan import (
    FINAL_CLASSIFIER_BETAS,
    _initialise_linear_layers,
    class_balancing_weights,
    train_softmax_classifier,
)
from fsigenz.methods.preprocessing import FeatureCentering
from fsigenz.progress import training_stage

_ROWS_PER_CHUNK = 16384  # rows per forward pass when encoding: bounds memory, not a modelling choice
# Adam betas of the VAEs (the paper's code: PyTorch's defaults, with AMSGrad)
VAE_BETAS = (0.9, 0.999)
# The terms of the VAE loss, recorded per step besides the weighted total ``vae``
VAE_LOSS_TERMS = ("reconstruction", "kl_divergence", "cross_reconstruction", "distribution_alignment")


class _VariationalAutoencoder(nn.Module):
    """Encoder input → hidden (ReLU) → (μ, log σ²); decoder z → hidden (ReLU) → reconstruction."""

    def __init__(self, input_dim: int, encoder_hidden: int, decoder_hidden: int, latent_dim: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(input_dim, encoder_hidden), nn.ReLU())
        self.mean = nn.Linear(encoder_hidden, latent_dim)
        self.log_variance = nn.Linear(encoder_hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, decoder_hidden), nn.ReLU(), nn.Linear(decoder_hidden, input_dim)
        )

    def encode(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(inputs)
        return self.mean(hidden), self.log_variance(hidden)


def _sample(mean: torch.Tensor, log_variance: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Reparameterised draw z = μ + σ ε, ε ~ N(0, I) from ``rng``."""
    noise = torch.randn(mean.shape, generator=rng, device=mean.device)
    return mean + torch.exp(0.5 * log_variance) * noise


def _kl_divergence(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)), summed over the batch."""
    return -0.5 * torch.sum(1 + log_variance - mean.pow(2) - log_variance.exp())


def warmup_weight(epoch: int, epochs: int, final_weight: float, window: tuple[float, float]) -> float:
    """Linear warm-up: 0 up to ``window[0]·epochs``, ``final_weight`` from ``window[1]·epochs`` on.

    With ``epochs=100`` and the paper's windows this is its schedule (e.g. δ: epochs 6 → 22).
    """
    start, end = window[0] * epochs, window[1] * epochs
    if end <= start:
        return final_weight if epoch >= start else 0.0
    return final_weight * min(1.0, max(0.0, (epoch - start) / (end - start)))


class CADAVAEClassifier:
    """CADA-VAE (Schönfeld et al. 2019): cross- and distribution-aligned VAEs + a latent softmax.

    Parameters
    ----------
    l2_normalize:
        L2-normalise each feature row after centring.
    latent_dim:
        Dimension of the shared latent space (paper: 64).
    feature_encoder_hidden, feature_decoder_hidden, attribute_encoder_hidden, attribute_decoder_hidden:
        Hidden widths of the two VAEs (paper: 1560, 1660, 1450, 665).
    epochs, batch_size, learning_rate:
        VAE training: passes over the training features, pairs per batch, Adam (AMSGrad) learning rate
        (paper: 100, 50, 1.5e-4).
    kl_weight, cross_reconstruction_weight, distribution_alignment_weight:
        Final β, γ, δ (paper: 0.25, 2.37, 8.13).
    kl_warmup, cross_reconstruction_warmup, distribution_alignment_warmup:
        (start, end) of each weight's linear warm-up as fractions of ``epochs`` (paper: (0, .93),
        (.21, .75), (.06, .22)).
    n_latent_per_seen_class, n_latent_per_unseen_class:
        Latent samples per class for the classifier: of real seen features (drawn with replacement)
        and of unseen attributes (paper: 200, 400).
    classifier_epochs, classifier_steps, classifier_learning_rate, classifier_batch_size:
        The latent softmax over all C classes; ``classifier_steps``, when set, is the exact number of
        updates (the training length chosen on validation).
    balance_classes:
        Weight the latent classifier's loss so that every class counts the same (off in the paper,
        whose seen and unseen sample counts are fixed per class anyway).
    eval_every, patience:
        ``monitor(step, self)`` every ``eval_every`` classifier steps and after the last; stop after
        ``patience`` calls without improvement (``None``: never).
    seed, device:
        Seed of initialisation, sampling and batch order (bit-for-bit reproducible on CPU); ``"auto"``
        or a ``torch.device`` string.

    Attributes (after ``fit``): ``preprocessing_``, ``feature_vae_``, ``attribute_vae_``,
    ``classifier_`` (latent → C logits); ``loss_history_`` (per pair at every VAE step: ``vae``, the
    weighted total, and its terms :data:`VAE_LOSS_TERMS`; ``classifier`` per classifier step);
    ``timings_`` (``vae_training``, ``latent_sampling``, ``classifier_training``);
    ``monitor_history_``, ``best_step_``, ``best_score_``, ``n_classes_``, ``n_features_``.
    """

    def __init__(
        self,
        *,
        l2_normalize: bool = False,
        latent_dim: int = 64,
        feature_encoder_hidden: int = 512,
        feature_decoder_hidden: int = 512,
        attribute_encoder_hidden: int = 256,
        attribute_decoder_hidden: int = 256,
        epochs: int = 50,
        batch_size: int = 50,
        learning_rate: float = 1e-3,
        kl_weight: float = 0.25,
        cross_reconstruction_weight: float = 2.37,
        distribution_alignment_weight: float = 8.13,
        kl_warmup: tuple[float, float] = (0.0, 0.93),
        cross_reconstruction_warmup: tuple[float, float] = (0.21, 0.75),
        distribution_alignment_warmup: tuple[float, float] = (0.06, 0.22),
        n_latent_per_seen_class: int = 200,
        n_latent_per_unseen_class: int = 400,
        classifier_epochs: int = 20,
        classifier_steps: int | None = None,
        classifier_learning_rate: float = 1e-3,
        classifier_batch_size: int = 32,
        balance_classes: bool = False,
        eval_every: int = 100,
        patience: int | None = None,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.l2_normalize = l2_normalize
        self.latent_dim = latent_dim
        self.feature_encoder_hidden = feature_encoder_hidden
        self.feature_decoder_hidden = feature_decoder_hidden
        self.attribute_encoder_hidden = attribute_encoder_hidden
        self.attribute_decoder_hidden = attribute_decoder_hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.kl_weight = kl_weight
        self.cross_reconstruction_weight = cross_reconstruction_weight
        self.distribution_alignment_weight = distribution_alignment_weight
        self.kl_warmup = kl_warmup
        self.cross_reconstruction_warmup = cross_reconstruction_warmup
        self.distribution_alignment_warmup = distribution_alignment_warmup
        self.n_latent_per_seen_class = n_latent_per_seen_class
        self.n_latent_per_unseen_class = n_latent_per_unseen_class
        self.classifier_epochs = classifier_epochs
        self.classifier_steps = classifier_steps
        self.classifier_learning_rate = classifier_learning_rate
        self.classifier_batch_size = classifier_batch_size
        self.balance_classes = balance_classes
        self.eval_every = eval_every
        self.patience = patience
        self.seed = seed
        self.device = device

    @property
    def n_synthetic_per_class(self) -> int:
        """Latent samples per unseen class the classifier trains on (the comparison's synthesis count)."""
        return self.n_latent_per_unseen_class

    def _validate_hyperparameters(self) -> None:
        names = (
            "latent_dim",
            "feature_encoder_hidden",
            "feature_decoder_hidden",
            "attribute_encoder_hidden",
            "attribute_decoder_hidden",
            "epochs",
            "batch_size",
            "n_latent_per_seen_class",
            "n_latent_per_unseen_class",
            "classifier_epochs",
            "classifier_batch_size",
            "eval_every",
        )
        positive_ints = {name: getattr(self, name) for name in names}
        for name in ("classifier_steps", "patience"):
            if getattr(self, name) is not None:
                positive_ints[name] = getattr(self, name)
        for name, value in positive_ints.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        for name in ("learning_rate", "classifier_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)!r}")
        for name in ("kl_weight", "cross_reconstruction_weight", "distribution_alignment_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: expected a nonnegative number, got {getattr(self, name)!r}")
        for name in ("kl_warmup", "cross_reconstruction_warmup", "distribution_alignment_warmup"):
            window = getattr(self, name)
            if len(window) != 2 or not 0 <= window[0] <= window[1]:
                raise ValueError(
                    f"{name}: expected (start, end) fractions of epochs, 0 <= start <= end, got {window!r}"
                )

    # ------------------------------------------------------------------ fit
    def fit(self, task: ZeroShotTask, monitor: Monitor | None = None) -> CADAVAEClassifier:
        """Train the two VAEs, sample the latent training set, train the latent GZSL softmax."""
        self._validate_hyperparameters()
        class_attributes = task.class_attributes.astype(np.float32)
        device = resolve_device(self.device)
        self.device_ = device
        self.n_classes_ = task.n_classes
        self.n_features_ = task.features.shape[1]
        self.timings_: dict[str, float] = {}
        self.loss_history_: LossHistory = {}
        self.monitor_history_: list[tuple[int, object]] = []
        self.best_step_: int | None = None
        self.best_score_: float | None = None
        init_rng = torch.Generator().manual_seed(self.seed)
        sample_rng = torch.Generator(device=device).manual_seed(self.seed)

        self.preprocessing_ = FeatureCentering(l2_normalize=self.l2_normalize)
        real_features = torch.from_numpy(self.preprocessing_.fit_transform(task.features)).to(device)
        real_labels = torch.from_numpy(task.labels).to(device)
        attributes_by_class = torch.from_numpy(np.ascontiguousarray(class_attributes.T)).to(device)

        self.feature_vae_ = _VariationalAutoencoder(
            self.n_features_, self.feature_encoder_hidden, self.feature_decoder_hidden, self.latent_dim
        )
        self.attribute_vae_ = _VariationalAutoencoder(
            class_attributes.shape[0],
            self.attribute_encoder_hidden,
            self.attribute_decoder_hidden,
            self.latent_dim,
        )
        for module in (self.feature_vae_, self.attribute_vae_):
            _initialise_linear_layers(module, init_rng)
            module.to(device)

        start = time.perf_counter()
        self.loss_history_.update(
            self._train_vaes(real_features, attributes_by_class[real_labels], sample_rng)
        )
        synchronize(device)
        self.timings_["vae_training"] = time.perf_counter() - start

        start = time.perf_counter()
        latents, latent_labels = self._latent_training_set(
            real_features,
            real_labels,
            attributes_by_class,
            task.seen_classes,
            task.unseen_classes,
            sample_rng,
        )
        synchronize(device)
        self.timings_["latent_sampling"] = time.perf_counter() - start

        start = time.perf_counter()
        self.classifier_ = nn.Linear(self.latent_dim, self.n_classes_)
        _initialise_linear_layers(self.classifier_, init_rng)
        self.classifier_.to(device)
        total_steps = self.classifier_steps or self.classifier_epochs * math.ceil(
            latents.shape[0] / self.classifier_batch_size
        )
        stopping = EarlyStopping(self.eval_every, total_steps, self.patience)
        self.monitor_history_ = stopping.history
        self.loss_history_[MONITORED_LOSS] = train_softmax_classifier(
            self.classifier_,
            latents,
            latent_labels,
            sample_rng,
            epochs=self.classifier_epochs,
            steps=self.classifier_steps,
            batch_size=self.classifier_batch_size,
            learning_rate=self.classifier_learning_rate,
            betas=FINAL_CLASSIFIER_BETAS,
            class_weights=(
                class_balancing_weights(latent_labels, self.n_classes_) if self.balance_classes else None
            ),
            stopping=stopping,
            evaluate=None if monitor is None else (lambda step: monitor(step, self)),
        )
        self.best_step_, self.best_score_ = stopping.best_step, stopping.best_score
        self.classifier_.requires_grad_(False).eval()
        synchronize(device)
        self.timings_["classifier_training"] = time.perf_counter() - start
        return self

    def _train_vaes(
        self, features: torch.Tensor, attributes: torch.Tensor, rng: torch.Generator
    ) -> dict[str, np.ndarray]:
        """Both VAEs on (feature, class attribute) pairs with the warmed-up VAE, CA and DA losses.

        Returns, per pair and step, the weighted total ``vae`` and its unweighted terms
        (:data:`VAE_LOSS_TERMS`)."""
        parameters = [*self.feature_vae_.parameters(), *self.attribute_vae_.parameters()]
        optimiser = torch.optim.Adam(parameters, lr=self.learning_rate, betas=VAE_BETAS, amsgrad=True)
        n_rows = features.shape[0]
        n_steps = self.epochs * math.ceil(n_rows / self.batch_size)
        history = torch.empty(1 + len(VAE_LOSS_TERMS), n_steps, device=features.device)  # no sync per step
        step = 0
        with training_stage("vae", n_steps) as progress:
            for epoch in range(self.epochs):
                kl_weight = warmup_weight(epoch, self.epochs, self.kl_weight, self.kl_warmup)
                cross_weight = warmup_weight(
                    epoch, self.epochs, self.cross_reconstruction_weight, self.cross_reconstruction_warmup
                )
                alignment_weight = warmup_weight(
                    epoch, self.epochs, self.distribution_alignment_weight, self.distribution_alignment_warmup
                )
                order = torch.randperm(n_rows, generator=rng, device=features.device)
                for batch in order.split(self.batch_size):
                    terms = self._vae_loss_terms(features[batch], attributes[batch], rng)
                    loss = (
                        terms[0]
                        + kl_weight * terms[1]
                        + cross_weight * terms[2]
                        + alignment_weight * terms[3]
                    )
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    history[:, step] = (
                        torch.stack([loss.detach(), *(term.detach() for term in terms)]) / batch.numel()
                    )
                    step += 1
                    progress.step(step, loss=history[0, step - 1])
        self.feature_vae_.requires_grad_(False).eval()
        self.attribute_vae_.requires_grad_(False).eval()
        values = history[:, :step].cpu().numpy().astype(np.float64)
        return dict(zip(("vae", *VAE_LOSS_TERMS), values, strict=True))

    def _vae_loss_terms(
        self, features: torch.Tensor, attributes: torch.Tensor, rng: torch.Generator
    ) -> tuple[torch.Tensor, ...]:
        """The unweighted terms of L (module docstring) of one batch, summed over it, in the order of
        :data:`VAE_LOSS_TERMS`."""
        mean_x, log_variance_x = self.feature_vae_.encode(features)
        mean_a, log_variance_a = self.attribute_vae_.encode(attributes)
        latent_x, latent_a = _sample(mean_x, log_variance_x, rng), _sample(mean_a, log_variance_a, rng)
        reconstruction = (features - self.feature_vae_.decoder(latent_x)).abs().sum() + (
            attributes - self.attribute_vae_.decoder(latent_a)
        ).abs().sum()
        kl = _kl_divergence(mean_x, log_variance_x) + _kl_divergence(mean_a, log_variance_a)
        cross_reconstruction = (features - self.feature_vae_.decoder(latent_a)).abs().sum() + (
            attributes - self.attribute_vae_.decoder(latent_x)
        ).abs().sum()
        alignment = torch.sqrt(
            (mean_x - mean_a).pow(2).sum(dim=1)
            + (torch.exp(0.5 * log_variance_x) - torch.exp(0.5 * log_variance_a)).pow(2).sum(dim=1)
        ).sum()
        return reconstruction, kl, cross_reconstruction, alignment

    @torch.no_grad()
    def _latent_training_set(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        attributes_by_class: torch.Tensor,
        seen_classes: np.ndarray,
        unseen_classes: np.ndarray,
        rng: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """z₁ of ``n_latent_per_seen_class`` real features per seen class (drawn with replacement), and
        z₂ of the unseen classes' attributes, ``n_latent_per_unseen_class`` each."""
        device = features.device
        rows = []
        for seen_class in seen_classes:
            class_rows = torch.nonzero(labels == int(seen_class)).squeeze(1)
            if class_rows.numel() == 0:
                continue
            pick = torch.randint(
                class_rows.numel(), (self.n_latent_per_seen_class,), generator=rng, device=device
            )
            rows.append(class_rows[pick])
        seen_rows = torch.cat(rows)
        seen_latents = _sample(*self.feature_vae_.encode(features[seen_rows]), rng)
        unseen_labels = (
            torch.from_numpy(unseen_classes).to(device).repeat_interleave(self.n_latent_per_unseen_class)
        )
        unseen_latents = _sample(*self.attribute_vae_.encode(attributes_by_class[unseen_labels]), rng)
        return torch.cat([seen_latents, unseen_latents]), torch.cat([labels[seen_rows], unseen_labels])

    # ------------------------------------------------------------------ predict
    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Logits of the latent classifier at μ₁(x), (N, C) over all task classes."""
        if not hasattr(self, "classifier_"):
            raise RuntimeError("CADAVAEClassifier: call fit(task) before decision_function")
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.n_features_:
            raise ValueError(
                f"features: expected an (N, {self.n_features_}) matrix (d = {self.n_features_} as in "
                f"training), got shape {features.shape}"
            )
        if features.shape[0] == 0:
            return np.zeros((0, self.n_classes_), dtype=np.float32)
        preprocessed = torch.from_numpy(self.preprocessing_.transform(features)).to(self.device_)
        with torch.no_grad():
            scores = torch.cat(
                [
                    self.classifier_(self.feature_vae_.encode(chunk)[0])
                    for chunk in preprocessed.split(_ROWS_PER_CHUNK)
                ]
            )
        return scores.cpu().numpy()
