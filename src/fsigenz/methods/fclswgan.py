"""f-CLSWGAN baseline: a conditional WGAN that synthesises unseen-class features, then a softmax classifier.

Xian et al., "Feature Generating Networks for Zero-Shot Learning", CVPR 2018. This is the large-scale
feature-synthesis approach that FSIGenZ claims to replace with a few prototypes per unseen class (method
notes, Phase 1b), so it is the baseline that makes the comparison — accuracy against synthesis cost —
concrete.

The method, in the paper's symbols mapped to our names:

- generator G(z, a) (``generator``): noise z ~ N(0, I) concatenated with the class attributes a, one hidden
  LeakyReLU layer, output x̃ in feature space;
- critic D(x, a) (``critic``): feature concatenated with attributes, one hidden LeakyReLU layer, a scalar;
- WGAN-GP objective, with x̂ = ε x + (1 − ε) x̃, ε ~ U(0, 1):
      L_WGAN = E[D(x, a)] − E[D(x̃, a)] − λ E[(‖∇_x̂ D(x̂, a)‖₂ − 1)²]      (λ: ``gradient_penalty_weight``)
  the critic maximises it, the generator minimises it, plus the classification loss
      L_CLS = −E[log P(y | x̃; θ)]                                 (weight β: ``classification_loss_weight``)
  where P(y | x; θ) is a softmax classifier pre-trained on the real seen features (``seen_classifier``);
- ``n_synthetic_per_class`` features are drawn for every unseen class, and the final GZSL classifier is a
  softmax over all C classes trained on real seen + synthetic unseen features (``classifier``).

Features go through :class:`~fsigenz.methods.preprocessing.FeatureCentering` first, like every method. Centred
features take negative values, so the generator's output activation defaults to none (linear); the paper's
ReLU output only suits raw, nonnegative CNN features.

The constructor defaults are sized for small problems (under ~10 s on two CPU cores for 30 seen / 10 unseen
classes, d = 64, m = 24, 60 images per class), except the optimiser settings, which are the paper's (Adam
lr 1e-4, betas (0.5, 0.999), n_critic = 5, β = 0.01). At lr 1e-4 the GAN needs thousands of generator
steps; on such a small problem 1000 steps leave it near chance, and a few hundred steps at lr 1e-3 – 3e-3
converge (see the tests). The paper-scale settings for real data (4096 hidden units, tens of epochs) live
in the Kedro parameters of the baselines pipeline, not here. For such tiny networks on CPU, one torch
thread (``torch.set_num_threads(1)``) is usually faster than several.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fsigenz.device import resolve_device, synchronize
from fsigenz.methods.base import Monitor, ZeroShotTask
from fsigenz.methods.early_stopping import MONITORED_LOSS, EarlyStopping, LossHistory
from fsigenz.methods.preprocessing import FeatureCentering
from fsigenz.progress import StageProgress, training_stage

# Output activations of the generator, by name. "none" keeps the output linear (centred features).
GENERATOR_OUTPUT_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "none": nn.Identity,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}

# Adam betas of the two softmax classifiers: PyTorch's defaults for the pre-trained one, the paper's
# beta1 = 0.5 for the final GZSL classifier.
SEEN_CLASSIFIER_BETAS = (0.9, 0.999)
FINAL_CLASSIFIER_BETAS = (0.5, 0.999)

# Rows per forward pass at synthesis and inference time: bounds memory, not a modelling choice.
_ROWS_PER_CHUNK = 16384


def _initialise_linear_layers(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Linear initialisation, drawn from ``generator`` so the global RNG is left alone."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                bound = 1.0 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def class_balancing_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Cross-entropy class weights n / (K · n_c) over the K classes present (0 for absent ones): every class
    weighs the same in the loss whatever its number of rows, so the learned priors are uniform."""
    counts = torch.bincount(labels, minlength=n_classes).float()
    present = counts > 0
    return torch.where(
        present, counts.sum() / (counts.clamp(min=1) * present.sum()), torch.zeros_like(counts)
    )


def train_softmax_classifier(
    classifier: nn.Module,
    features: torch.Tensor,
    labels: torch.Tensor,
    rng: torch.Generator,
    *,
    epochs: int,
    steps: int | None,
    batch_size: int,
    learning_rate: float,
    betas: tuple[float, float],
    class_weights: torch.Tensor | None = None,
    stopping: EarlyStopping | None = None,
    evaluate: Callable[[int], object] | None = None,
    stage: str = "classifier",
) -> np.ndarray:
    """Minibatch cross-entropy with Adam for ``epochs`` passes, or exactly ``steps`` updates when given;
    reshuffled at every pass. With ``evaluate`` and ``stopping``, ``evaluate(step)`` (the classifier in
    eval mode) is recorded whenever ``stopping.due(step)``, and training ends once ``stopping.should_stop``.
    Reported as ``stage`` (:mod:`fsigenz.progress`). Returns the loss of every step run. The final GZSL
    softmax of every generative baseline (f-CLSWGAN, CADA-VAE, TF-VAEGAN) and f-CLSWGAN's seen-class
    pre-training."""
    optimiser = torch.optim.Adam(classifier.parameters(), lr=learning_rate, betas=betas)
    n_rows = features.shape[0]
    total_steps = epochs * math.ceil(n_rows / batch_size) if steps is None else steps
    losses = torch.empty(total_steps, device=features.device)  # kept on device: no sync per step
    step = 0
    with training_stage(stage, total_steps) as progress:
        while step < total_steps:
            order = torch.randperm(n_rows, generator=rng, device=features.device)
            for batch in order.split(batch_size):
                loss = F.cross_entropy(classifier(features[batch]), labels[batch], weight=class_weights)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                losses[step] = loss.detach()
                step += 1
                progress.step(step, loss=losses[step - 1])
                if evaluate is not None and stopping is not None and stopping.due(step):
                    classifier.eval()
                    value = evaluate(step)
                    stopping.record(step, value)
                    progress.evaluation(step, value)
                    classifier.train()
                    if stopping.should_stop:
                        total_steps = step
                if step == total_steps:
                    break
    return losses[:step].cpu().numpy().astype(np.float64)


class _ConditionalGenerator(nn.Module):
    """G(z, a) = out(W₂ · LeakyReLU(W₁ [z; a]))."""

    def __init__(
        self,
        noise_dim: int,
        attribute_dim: int,
        hidden_dim: int,
        feature_dim: int,
        leaky_relu_slope: float,
        output_activation: str,
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(noise_dim + attribute_dim, hidden_dim),
            nn.LeakyReLU(leaky_relu_slope),
            nn.Linear(hidden_dim, feature_dim),
            GENERATOR_OUTPUT_ACTIVATIONS[output_activation](),
        )

    def forward(self, noise: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([noise, attributes], dim=1))


class _ConditionalCritic(nn.Module):
    """D(x, a) = W₂ · LeakyReLU(W₁ [x; a]), one unbounded score per row (no sigmoid: Wasserstein critic)."""

    def __init__(
        self, feature_dim: int, attribute_dim: int, hidden_dim: int, leaky_relu_slope: float
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(feature_dim + attribute_dim, hidden_dim),
            nn.LeakyReLU(leaky_relu_slope),
            nn.Linear(hidden_dim, 1),
        )

    def forward(self, features: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([features, attributes], dim=1)).squeeze(1)


# the GAN stage's losses, one value per generator step, in loss_history_
GAN_LOSS_NAMES = (
    "critic",
    "wasserstein_distance",
    "gradient_penalty",
    "generator_adversarial",
    "generator_classification",
)


class FeatureGeneratingGANClassifier:
    """f-CLSWGAN (Xian et al. 2018): WGAN-GP feature synthesis for unseen classes + a softmax GZSL classifier.

    Parameters
    ----------
    l2_normalize:
        L2-normalise each feature row after centring (:class:`FeatureCentering`).
    noise_dim:
        Dimension of the generator noise z; ``None`` uses the attribute dimension m, as the paper does.
    generator_hidden_dim, critic_hidden_dim:
        Width of the single hidden layer of G and D (paper: 4096).
    generator_output_activation:
        One of :data:`GENERATOR_OUTPUT_ACTIVATIONS`; ``"none"`` (linear) because centred features can be
        negative.
    leaky_relu_slope:
        Negative slope of the hidden LeakyReLU of G and D.
    gradient_penalty_weight:
        λ of the WGAN-GP gradient penalty.
    n_critic:
        Critic updates per generator update.
    gan_learning_rate, gan_betas:
        Adam settings of G and D.
    classification_loss_weight:
        β, weight of the pre-trained classifier's cross-entropy on generated features in G's loss.
    generator_steps:
        Generator updates (each preceded by ``n_critic`` critic updates).
    gan_batch_size:
        Real / generated rows per GAN update.
    seen_classifier_epochs, seen_classifier_learning_rate:
        Pre-training of the softmax over seen classes that supplies L_CLS.
    n_synthetic_per_class:
        Synthetic features drawn per unseen class for the final classifier (paper: 300 and more).
    classifier_epochs, classifier_steps, classifier_learning_rate, classifier_batch_size:
        Training of the final softmax over all C classes: ``classifier_epochs`` passes over real seen +
        synthetic unseen features, or exactly ``classifier_steps`` minibatch updates when set (the training
        length that model selection chooses on validation and sets for the final fit).
        ``classifier_batch_size`` also serves the pre-training.
    balance_classes:
        Weight the final classifier's loss so that every class counts the same whatever its number of real
        images or synthetic features (:func:`class_balancing_weights`); without it the learned priors follow
        the row counts, e.g. ~590 real images per seen AwA2 class against ``n_synthetic_per_class``.
    eval_every:
        ``monitor(step, self)`` is called every ``eval_every`` steps of the final classifier, and after its
        last.
    patience:
        With a monitor, stop the final classifier after this many calls without improvement (``None``: never);
        the contract of :mod:`fsigenz.methods.early_stopping`, as for the SCC.
    seed:
        Seeds weight initialisation, noise and batch order; a given seed is bit-for-bit reproducible on CPU.
    device:
        ``"auto"`` (CUDA when available), or anything ``torch.device`` accepts.

    Attributes (after ``fit``)
    --------------------------
    preprocessing_: the fitted :class:`FeatureCentering`.
    generator_, critic_, seen_classifier_, classifier_: the trained torch modules (``classifier_``: d → C
        logits).
    synthetic_features_: (L · n_synthetic_per_class, d) preprocessed synthetic features;
        ``synthetic_labels_``: their task class indices.
    timings_: seconds spent in ``seen_classifier_pretraining``, ``generator_training``, ``synthesis``,
        ``classifier_training``.
    loss_history_: per-update losses (a :data:`~fsigenz.methods.early_stopping.LossHistory` of float64
        arrays) — ``seen_classifier``, ``critic``, ``wasserstein_distance``, ``gradient_penalty`` (last
        critic update before each generator update), ``generator_adversarial``,
        ``generator_classification``, ``classifier`` (the monitored one).
    monitor_history_: list of ``(step, value)`` returned by the monitor; best_step_ / best_score_ (with a
        numeric monitor).
    n_classes_, n_features_, n_attributes_, device_.
    """

    def __init__(
        self,
        *,
        l2_normalize: bool = False,
        noise_dim: int | None = None,
        generator_hidden_dim: int = 256,
        critic_hidden_dim: int = 256,
        generator_output_activation: str = "none",
        leaky_relu_slope: float = 0.2,
        gradient_penalty_weight: float = 10.0,
        n_critic: int = 5,
        gan_learning_rate: float = 1e-4,
        gan_betas: tuple[float, float] = (0.5, 0.999),
        classification_loss_weight: float = 0.01,
        generator_steps: int = 1000,
        gan_batch_size: int = 64,
        seen_classifier_epochs: int = 20,
        seen_classifier_learning_rate: float = 1e-3,
        n_synthetic_per_class: int = 300,
        classifier_epochs: int = 10,
        classifier_steps: int | None = None,
        classifier_learning_rate: float = 1e-3,
        classifier_batch_size: int = 128,
        balance_classes: bool = False,
        eval_every: int = 50,
        patience: int | None = None,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.l2_normalize = l2_normalize
        self.noise_dim = noise_dim
        self.generator_hidden_dim = generator_hidden_dim
        self.critic_hidden_dim = critic_hidden_dim
        self.generator_output_activation = generator_output_activation
        self.leaky_relu_slope = leaky_relu_slope
        self.gradient_penalty_weight = gradient_penalty_weight
        self.n_critic = n_critic
        self.gan_learning_rate = gan_learning_rate
        self.gan_betas = gan_betas
        self.classification_loss_weight = classification_loss_weight
        self.generator_steps = generator_steps
        self.gan_batch_size = gan_batch_size
        self.seen_classifier_epochs = seen_classifier_epochs
        self.seen_classifier_learning_rate = seen_classifier_learning_rate
        self.n_synthetic_per_class = n_synthetic_per_class
        self.classifier_epochs = classifier_epochs
        self.classifier_steps = classifier_steps
        self.classifier_learning_rate = classifier_learning_rate
        self.classifier_batch_size = classifier_batch_size
        self.balance_classes = balance_classes
        self.eval_every = eval_every
        self.patience = patience
        self.seed = seed
        self.device = device

    # ------------------------------------------------------------------ validation
    def _validate_hyperparameters(self) -> None:
        positive_ints = {
            "generator_hidden_dim": self.generator_hidden_dim,
            "critic_hidden_dim": self.critic_hidden_dim,
            "n_critic": self.n_critic,
            "generator_steps": self.generator_steps,
            "gan_batch_size": self.gan_batch_size,
            "seen_classifier_epochs": self.seen_classifier_epochs,
            "n_synthetic_per_class": self.n_synthetic_per_class,
            "classifier_epochs": self.classifier_epochs,
            "classifier_batch_size": self.classifier_batch_size,
            "eval_every": self.eval_every,
        }
        if self.noise_dim is not None:
            positive_ints["noise_dim"] = self.noise_dim
        if self.classifier_steps is not None:
            positive_ints["classifier_steps"] = self.classifier_steps
        if self.patience is not None:
            positive_ints["patience"] = self.patience
        for name, value in positive_ints.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        for name, value in {
            "gan_learning_rate": self.gan_learning_rate,
            "seen_classifier_learning_rate": self.seen_classifier_learning_rate,
            "classifier_learning_rate": self.classifier_learning_rate,
        }.items():
            if not value > 0:
                raise ValueError(f"{name}: expected a positive number, got {value!r}")
        for name, value in {
            "gradient_penalty_weight": self.gradient_penalty_weight,
            "classification_loss_weight": self.classification_loss_weight,
        }.items():
            if not value >= 0:
                raise ValueError(f"{name}: expected a nonnegative number, got {value!r}")
        if self.generator_output_activation not in GENERATOR_OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"generator_output_activation: expected one of {sorted(GENERATOR_OUTPUT_ACTIVATIONS)}, "
                f"got {self.generator_output_activation!r}"
            )
        if len(self.gan_betas) != 2 or not all(0 <= beta < 1 for beta in self.gan_betas):
            raise ValueError(f"gan_betas: expected two numbers in [0, 1), got {self.gan_betas!r}")

    # ------------------------------------------------------------------ fit
    def fit(self, task: ZeroShotTask, monitor: Monitor | None = None) -> FeatureGeneratingGANClassifier:
        """Pre-train the seen classifier, train the WGAN-GP, synthesise unseen features, train the GZSL
        softmax."""
        self._validate_hyperparameters()
        features, labels = task.features, task.labels  # validated by ZeroShotTask itself
        class_attributes = task.class_attributes.astype(np.float32)
        seen_classes, unseen_classes = task.seen_classes, task.unseen_classes

        device = resolve_device(self.device)
        self.device_ = device
        self.n_classes_ = class_attributes.shape[1]
        self.n_features_ = features.shape[1]
        self.n_attributes_ = class_attributes.shape[0]
        self.seen_classes_ = seen_classes
        self.unseen_classes_ = unseen_classes
        self.timings_: dict[str, float] = {}
        self.loss_history_: LossHistory = {}
        self.monitor_history_: list[tuple[int, object]] = []
        self.best_step_: int | None = None
        self.best_score_: float | None = None

        # One CPU generator seeds all weights; one on the device draws noise and batches.
        init_rng = torch.Generator().manual_seed(self.seed)
        sample_rng = torch.Generator(device=device).manual_seed(self.seed)

        self.preprocessing_ = FeatureCentering(l2_normalize=self.l2_normalize)
        real_features = torch.from_numpy(self.preprocessing_.fit_transform(features)).to(device)
        real_labels = torch.from_numpy(labels).to(device)
        # Attributes as (C, m): row c conditions G and D on class c.
        attributes_by_class = torch.from_numpy(np.ascontiguousarray(class_attributes.T)).to(device)

        # Task class index -> position among the seen classes, for the seen-only softmax.
        seen_position = np.full(self.n_classes_, -1, dtype=np.int64)
        seen_position[seen_classes] = np.arange(seen_classes.size)
        real_seen_positions = torch.from_numpy(seen_position[labels]).to(device)

        start = time.perf_counter()
        self.seen_classifier_ = nn.Linear(self.n_features_, seen_classes.size)
        _initialise_linear_layers(self.seen_classifier_, init_rng)
        self.seen_classifier_.to(device)
        self.loss_history_["seen_classifier"] = self._train_softmax(
            self.seen_classifier_,
            real_features,
            real_seen_positions,
            sample_rng,
            epochs=self.seen_classifier_epochs,
            steps=None,
            batch_size=self.classifier_batch_size,
            learning_rate=self.seen_classifier_learning_rate,
            betas=SEEN_CLASSIFIER_BETAS,
            stage="seen_classifier",
        )
        self.seen_classifier_.requires_grad_(False).eval()
        synchronize(device)
        self.timings_["seen_classifier_pretraining"] = time.perf_counter() - start

        start = time.perf_counter()
        with training_stage("gan", self.generator_steps) as progress:
            self._train_gan(
                real_features,
                real_labels,
                real_seen_positions,
                attributes_by_class,
                init_rng,
                sample_rng,
                progress,
            )
        synchronize(device)
        self.timings_["generator_training"] = time.perf_counter() - start

        start = time.perf_counter()
        synthetic_features, synthetic_labels = self._synthesise(
            torch.from_numpy(unseen_classes).to(device), attributes_by_class, sample_rng
        )
        synchronize(device)
        self.timings_["synthesis"] = time.perf_counter() - start
        self.synthetic_features_ = synthetic_features.cpu().numpy()
        self.synthetic_labels_ = synthetic_labels.cpu().numpy()

        start = time.perf_counter()
        classifier_inputs = self._classifier_inputs(torch.cat([real_features, synthetic_features]))
        classifier_labels = torch.cat([real_labels, synthetic_labels])
        self.classifier_ = nn.Linear(classifier_inputs.shape[1], self.n_classes_)
        _initialise_linear_layers(self.classifier_, init_rng)
        self.classifier_.to(device)
        self.loss_history_[MONITORED_LOSS] = self._train_softmax(
            self.classifier_,
            classifier_inputs,
            classifier_labels,
            sample_rng,
            epochs=self.classifier_epochs,
            steps=self.classifier_steps,
            batch_size=self.classifier_batch_size,
            learning_rate=self.classifier_learning_rate,
            betas=FINAL_CLASSIFIER_BETAS,
            class_weights=(
                class_balancing_weights(classifier_labels, self.n_classes_) if self.balance_classes else None
            ),
            monitor=monitor,
            stage="classifier",
        )
        self.classifier_.requires_grad_(False).eval()
        synchronize(device)
        # Includes the monitor's own time when one is given.
        self.timings_["classifier_training"] = time.perf_counter() - start
        return self

    def _train_softmax(
        self,
        classifier: nn.Module,
        features: torch.Tensor,
        labels: torch.Tensor,
        rng: torch.Generator,
        *,
        epochs: int,
        steps: int | None,
        batch_size: int,
        learning_rate: float,
        betas: tuple[float, float],
        class_weights: torch.Tensor | None = None,
        monitor: Monitor | None = None,
        stage: str = "classifier",
    ) -> np.ndarray:
        """:func:`train_softmax_classifier`, reported as ``stage``; with a ``monitor``,
        ``monitor(step, self)`` every ``eval_every`` steps and after the last, stopped early after
        ``patience`` calls without improvement."""
        stopping = None
        if monitor is not None:
            total_steps = epochs * math.ceil(features.shape[0] / batch_size) if steps is None else steps
            stopping = EarlyStopping(self.eval_every, total_steps, self.patience)
            self.monitor_history_ = stopping.history
        losses = train_softmax_classifier(
            classifier,
            features,
            labels,
            rng,
            epochs=epochs,
            steps=steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            betas=betas,
            class_weights=class_weights,
            stopping=stopping,
            evaluate=None if monitor is None else (lambda step: monitor(step, self)),
            stage=stage,
        )
        if stopping is not None:
            self.best_step_, self.best_score_ = stopping.best_step, stopping.best_score
        return losses

    def _train_gan(
        self,
        real_features: torch.Tensor,
        real_labels: torch.Tensor,
        real_seen_positions: torch.Tensor,
        attributes_by_class: torch.Tensor,
        init_rng: torch.Generator,
        sample_rng: torch.Generator,
        progress: StageProgress,
    ) -> None:
        """WGAN-GP with the classification loss (f-CLSWGAN eq. 3–4), ``n_critic`` critic updates per G update;
        each G update is a step of ``progress``."""
        device = real_features.device
        noise_dim = self.noise_dim or self.n_attributes_
        self.generator_ = _ConditionalGenerator(
            noise_dim,
            self.n_attributes_,
            self.generator_hidden_dim,
            self.n_features_,
            self.leaky_relu_slope,
            self.generator_output_activation,
        )
        self.critic_ = _ConditionalCritic(
            self.n_features_, self.n_attributes_, self.critic_hidden_dim, self.leaky_relu_slope
        )
        for module in (self.generator_, self.critic_):
            _initialise_linear_layers(module, init_rng)
            module.to(device)
        generator_optimiser = torch.optim.Adam(
            self.generator_.parameters(), lr=self.gan_learning_rate, betas=tuple(self.gan_betas)
        )
        critic_optimiser = torch.optim.Adam(
            self.critic_.parameters(), lr=self.gan_learning_rate, betas=tuple(self.gan_betas)
        )
        n_rows, batch_size, n_critic = real_features.shape[0], self.gan_batch_size, self.n_critic
        # kept on device: no sync per step
        history = torch.zeros(len(GAN_LOSS_NAMES), self.generator_steps, device=device)

        for step in range(self.generator_steps):
            # G is fixed during the critic updates, so all n_critic batches are drawn and generated in one
            # call.
            rows = torch.randint(n_rows, (n_critic + 1, batch_size), generator=sample_rng, device=device)
            noise = torch.randn(n_critic + 1, batch_size, noise_dim, generator=sample_rng, device=device)
            mix = torch.rand(n_critic, batch_size, 1, generator=sample_rng, device=device)
            attributes = attributes_by_class[real_labels[rows]]
            with torch.no_grad():
                fakes = self.generator_(noise[:n_critic].flatten(0, 1), attributes[:n_critic].flatten(0, 1))
            fakes = fakes.view(n_critic, batch_size, -1)

            self.critic_.requires_grad_(True)
            for update in range(n_critic):
                real, fake, condition = real_features[rows[update]], fakes[update], attributes[update]
                critic_loss, wasserstein_distance, gradient_penalty = self._critic_update(
                    real, fake, condition, mix[update], critic_optimiser
                )

            self.critic_.requires_grad_(False)  # G's update needs gradients through D, not of D
            fake = self.generator_(noise[n_critic], attributes[n_critic])
            adversarial_loss = -self.critic_(fake, attributes[n_critic]).mean()
            classification_loss = F.cross_entropy(
                self.seen_classifier_(fake), real_seen_positions[rows[n_critic]]
            )
            generator_loss = adversarial_loss + self.classification_loss_weight * classification_loss
            generator_optimiser.zero_grad(set_to_none=True)
            generator_loss.backward()
            generator_optimiser.step()

            history[:, step] = torch.stack(
                [
                    critic_loss.detach(),
                    wasserstein_distance.detach(),
                    gradient_penalty.detach(),
                    adversarial_loss.detach(),
                    classification_loss.detach(),
                ]
            )
            progress.step(step + 1, critic_loss=history[0, step], generator_loss=generator_loss.detach())
        self.generator_.requires_grad_(False).eval()
        self.critic_.eval()
        for name, values in zip(GAN_LOSS_NAMES, history.cpu().numpy().astype(np.float64), strict=True):
            self.loss_history_[name] = values

    def _critic_update(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        condition: torch.Tensor,
        mix: torch.Tensor,
        critic_optimiser: torch.optim.Optimizer,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One WGAN-GP critic step on a batch of real and generated rows of attributes ``condition``, with
        interpolation weights ``mix`` (B, 1); the critic loss, Wasserstein estimate and gradient penalty."""
        interpolates = (mix * real + (1 - mix) * fake).requires_grad_(True)
        # One critic pass over [real; fake; interpolates] instead of three.
        scores = self.critic_(torch.cat([real, fake, interpolates]), condition.repeat(3, 1)).view(3, -1)
        wasserstein_distance = scores[0].mean() - scores[1].mean()
        gradient_penalty = self._gradient_penalty(scores[2], interpolates)
        critic_loss = -wasserstein_distance + self.gradient_penalty_weight * gradient_penalty
        critic_optimiser.zero_grad(set_to_none=True)
        critic_loss.backward()
        critic_optimiser.step()
        return critic_loss, wasserstein_distance, gradient_penalty

    @staticmethod
    def _gradient_penalty(interpolate_scores: torch.Tensor, interpolates: torch.Tensor) -> torch.Tensor:
        """E[(‖∇_x̂ D(x̂, a)‖₂ − 1)²] at random interpolates x̂ = ε x + (1 − ε) x̃ of real and generated rows."""
        (gradients,) = torch.autograd.grad(interpolate_scores.sum(), interpolates, create_graph=True)
        return ((gradients.norm(dim=1) - 1) ** 2).mean()

    @torch.no_grad()
    def _synthesise(
        self, unseen_classes: torch.Tensor, attributes_by_class: torch.Tensor, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n_synthetic_per_class`` features for every unseen class at once, in row chunks."""
        labels = unseen_classes.repeat_interleave(self.n_synthetic_per_class)
        noise_dim = self.noise_dim or self.n_attributes_
        noise = torch.randn(labels.shape[0], noise_dim, generator=rng, device=labels.device)
        attributes = attributes_by_class[labels]
        features = torch.cat(
            [
                self._generate(noise_chunk, attribute_chunk)
                for noise_chunk, attribute_chunk in zip(
                    noise.split(_ROWS_PER_CHUNK), attributes.split(_ROWS_PER_CHUNK), strict=True
                )
            ]
        )
        return features, labels

    def _generate(self, noise: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """G(z, a) (TF-VAEGAN adds its feedback pass)."""
        return self.generator_(noise, attributes)

    def _classifier_inputs(self, features: torch.Tensor) -> torch.Tensor:
        """What the final classifier reads of a preprocessed feature: the feature itself here (TF-VAEGAN
        appends its semantic decoder's embedding)."""
        return features

    # ------------------------------------------------------------------ predict
    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Logits of the final classifier, (N, C) over all task classes (higher is more likely)."""
        if not hasattr(self, "classifier_"):
            raise RuntimeError("FeatureGeneratingGANClassifier: call fit(task) before decision_function")
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.n_features_:
            raise ValueError(
                f"features: expected an (N, {self.n_features_}) matrix "
                f"(d = {self.n_features_} as in training), got shape {features.shape}"
            )
        if features.shape[0] == 0:
            return np.zeros((0, self.n_classes_), dtype=np.float32)
        preprocessed = torch.from_numpy(self.preprocessing_.transform(features)).to(self.device_)
        with torch.no_grad():
            scores = torch.cat(
                [
                    self.classifier_(self._classifier_inputs(chunk))
                    for chunk in preprocessed.split(_ROWS_PER_CHUNK)
                ]
            )
        return scores.cpu().numpy()
