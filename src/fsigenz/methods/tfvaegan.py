"""TF-VAEGAN baseline: a VAE-GAN feature generator with a semantic-embedding decoder and feedback.

Narayan et al., "Latent Embedding Feedback and Discriminative Features for Zero-Shot Classification",
ECCV 2020, built on f-VAEGAN-D2 (Xian et al., CVPR 2019). It extends the f-CLSWGAN-style baseline
(:class:`~fsigenz.methods.fclswgan.FeatureGeneratingGANClassifier`), whose critic, WGAN-GP penalty,
seen-class pre-training, synthesis count and final softmax it shares, with:

- an encoder E(x, a) → (μ, log σ²) that makes G(z, a) the decoder of a conditional VAE:
      L_VAE = ‖x − G(z, a)‖² + κ KL(N(μ, σ²) ‖ N(0, I)),   z ~ N(μ, σ²)      (κ: ``vae_kl_weight``)
  (squared error, summed over the feature dimensions: features are centred here; the paper's binary
  cross-entropy assumes nonnegative, [0, 1]-scaled CNN features);
- a semantic embedding decoder Dec(x) = W₂ · h(x), h(x) = LeakyReLU(W₁ x), trained to reconstruct the
  class attributes of real features, L_R = |Dec(x) − a|₁, which also gives the generator a
  cycle-consistency loss on its own features (weight ``semantic_reconstruction_weight``);
- a feedback module F: the generator's hidden layer is refined by the decoder's embedding of its first
  output, x̃ = G(z, a), x̃_f = G(z, a; hidden + ``feedback_weight`` · F(h(x̃))), in training and at
  synthesis time ("two passes");
- the final softmax reads [x; h(x)] (the feature and its semantic embedding: the paper's discriminative
  feature transformation) over real seen and ``n_synthetic_per_class`` synthetic unseen features.

The generator's loss is L_VAE + γ_G · L_adv + λ_R · L_R (+ β · L_CLS of the seen softmax when
``classification_loss_weight`` > 0; the paper has none, so it defaults to 0). The critic is the WGAN-GP
critic of the parent. Simplification: Dec is trained on real features only (the paper also lets the
fake features' cycle loss update it); the generator still receives that loss through the decoder.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fsigenz.methods.fclswgan import (
    GAN_LOSS_NAMES,
    FeatureGeneratingGANClassifier,
    _ConditionalCritic,
    _initialise_linear_layers,
)
from fsigenz.progress import StageProgress


class _FeedbackGenerator(nn.Module):
    """G(z, a; f) = W₂ · (LeakyReLU(W₁ [z; a]) + f): the hidden layer accepts an additive feedback f."""

    def __init__(
        self, noise_dim: int, attribute_dim: int, hidden_dim: int, feature_dim: int, slope: float
    ) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(noise_dim + attribute_dim, hidden_dim), nn.LeakyReLU(slope))
        self.output = nn.Linear(hidden_dim, feature_dim)

    def forward(
        self, noise: torch.Tensor, attributes: torch.Tensor, feedback: torch.Tensor | None = None
    ) -> torch.Tensor:
        hidden = self.hidden(torch.cat([noise, attributes], dim=1))
        if feedback is not None:
            hidden = hidden + feedback
        return self.output(hidden)


class _ConditionalEncoder(nn.Module):
    """E(x, a) → (μ, log σ²) of the latent z (dimension: the generator's noise dimension)."""

    def __init__(
        self, feature_dim: int, attribute_dim: int, hidden_dim: int, latent_dim: int, slope: float
    ) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(feature_dim + attribute_dim, hidden_dim), nn.LeakyReLU(slope))
        self.mean = nn.Linear(hidden_dim, latent_dim)
        self.log_variance = nn.Linear(hidden_dim, latent_dim)

    def forward(self, features: torch.Tensor, attributes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.hidden(torch.cat([features, attributes], dim=1))
        return self.mean(hidden), self.log_variance(hidden)


class _SemanticDecoder(nn.Module):
    """Dec(x) = W₂ · h(x) with the semantic embedding h(x) = LeakyReLU(W₁ x)."""

    def __init__(self, feature_dim: int, hidden_dim: int, attribute_dim: int, slope: float) -> None:
        super().__init__()
        self.embedding = nn.Sequential(nn.Linear(feature_dim, hidden_dim), nn.LeakyReLU(slope))
        self.attributes = nn.Linear(hidden_dim, attribute_dim)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.embedding(features)
        return self.attributes(embedding), embedding


class _Feedback(nn.Module):
    """F(h): two LeakyReLU layers from the decoder's embedding to the generator's hidden width."""

    def __init__(self, embedding_dim: int, generator_hidden_dim: int, slope: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(embedding_dim, generator_hidden_dim),
            nn.LeakyReLU(slope),
            nn.Linear(generator_hidden_dim, generator_hidden_dim),
            nn.LeakyReLU(slope),
        )

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.layers(embedding)


class TFVAEGANClassifier(FeatureGeneratingGANClassifier):
    """TF-VAEGAN (Narayan et al. 2020): VAE-GAN generator + semantic decoder + feedback, softmax on [x; h(x)].

    Takes every parameter of :class:`FeatureGeneratingGANClassifier` (its ``classification_loss_weight``
    defaults to 0 here), plus:

    encoder_hidden_dim, semantic_decoder_hidden_dim:
        Hidden widths of E and Dec (paper: 4096).
    vae_kl_weight:
        κ, weight of the KL term of L_VAE.
    adversarial_weight:
        γ_G, weight of the generator's WGAN loss against L_VAE (f-VAEGAN-D2 / TF-VAEGAN: 10).
    semantic_reconstruction_weight:
        λ_R, weight of the cycle-consistency loss |Dec(G(z, a)) − a|₁ in the generator's loss.
    feedback_weight:
        Scale of the feedback added to the generator's hidden layer (the paper's a₁ / a₂); 0 turns
        feedback off (f-VAEGAN with a semantic decoder).
    decoder_learning_rate, feedback_learning_rate:
        Adam learning rates of Dec and F; ``None`` uses ``gan_learning_rate``.

    Extra attributes after ``fit``: ``encoder_``, ``semantic_decoder_``, ``feedback_``; ``loss_history_`` also
    holds ``vae``, ``semantic_reconstruction``.
    """

    def __init__(
        self,
        *,
        encoder_hidden_dim: int = 256,
        semantic_decoder_hidden_dim: int = 256,
        vae_kl_weight: float = 1.0,
        adversarial_weight: float = 10.0,
        semantic_reconstruction_weight: float = 0.1,
        feedback_weight: float = 1.0,
        decoder_learning_rate: float | None = None,
        feedback_learning_rate: float | None = None,
        classification_loss_weight: float = 0.0,
        **gan_parameters,
    ) -> None:
        super().__init__(classification_loss_weight=classification_loss_weight, **gan_parameters)
        self.encoder_hidden_dim = encoder_hidden_dim
        self.semantic_decoder_hidden_dim = semantic_decoder_hidden_dim
        self.vae_kl_weight = vae_kl_weight
        self.adversarial_weight = adversarial_weight
        self.semantic_reconstruction_weight = semantic_reconstruction_weight
        self.feedback_weight = feedback_weight
        self.decoder_learning_rate = decoder_learning_rate
        self.feedback_learning_rate = feedback_learning_rate

    def _validate_hyperparameters(self) -> None:
        super()._validate_hyperparameters()
        for name in ("encoder_hidden_dim", "semantic_decoder_hidden_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        for name in (
            "vae_kl_weight",
            "adversarial_weight",
            "semantic_reconstruction_weight",
            "feedback_weight",
        ):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: expected a nonnegative number, got {getattr(self, name)!r}")
        for name in ("decoder_learning_rate", "feedback_learning_rate"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name}: expected a positive number or null, got {value!r}")

    # ------------------------------------------------------------------ training
    def _generate(self, noise: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """Two passes: x̃ = G(z, a), then G again with the feedback of Dec's embedding of x̃."""
        first = self.generator_(noise, attributes)
        if self.feedback_weight == 0:
            return first
        _, embedding = self.semantic_decoder_(first)
        return self.generator_(noise, attributes, self.feedback_weight * self.feedback_(embedding))

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
        device = real_features.device
        noise_dim = self.noise_dim or self.n_attributes_
        slope = self.leaky_relu_slope
        self.generator_ = _FeedbackGenerator(
            noise_dim, self.n_attributes_, self.generator_hidden_dim, self.n_features_, slope
        )
        self.critic_ = _ConditionalCritic(self.n_features_, self.n_attributes_, self.critic_hidden_dim, slope)
        self.encoder_ = _ConditionalEncoder(
            self.n_features_, self.n_attributes_, self.encoder_hidden_dim, noise_dim, slope
        )
        self.semantic_decoder_ = _SemanticDecoder(
            self.n_features_, self.semantic_decoder_hidden_dim, self.n_attributes_, slope
        )
        self.feedback_ = _Feedback(self.semantic_decoder_hidden_dim, self.generator_hidden_dim, slope)
        for module in (self.generator_, self.critic_, self.encoder_, self.semantic_decoder_, self.feedback_):
            _initialise_linear_layers(module, init_rng)
            module.to(device)

        betas = tuple(self.gan_betas)
        generator_optimiser = torch.optim.Adam(
            [
                {"params": list(self.generator_.parameters()) + list(self.encoder_.parameters())},
                {
                    "params": self.feedback_.parameters(),
                    "lr": self.feedback_learning_rate or self.gan_learning_rate,
                },
            ],
            lr=self.gan_learning_rate,
            betas=betas,
        )
        critic_optimiser = torch.optim.Adam(self.critic_.parameters(), lr=self.gan_learning_rate, betas=betas)
        decoder_optimiser = torch.optim.Adam(
            self.semantic_decoder_.parameters(),
            lr=self.decoder_learning_rate or self.gan_learning_rate,
            betas=betas,
        )
        n_rows, batch_size, n_critic = real_features.shape[0], self.gan_batch_size, self.n_critic
        names = (*GAN_LOSS_NAMES, "vae", "semantic_reconstruction")
        history = torch.zeros(len(names), self.generator_steps, device=device)

        for step in range(self.generator_steps):
            rows = torch.randint(n_rows, (n_critic + 1, batch_size), generator=sample_rng, device=device)
            noise = torch.randn(n_critic + 1, batch_size, noise_dim, generator=sample_rng, device=device)
            mix = torch.rand(n_critic, batch_size, 1, generator=sample_rng, device=device)
            attributes = attributes_by_class[real_labels[rows]]

            self.critic_.requires_grad_(True)
            self.semantic_decoder_.requires_grad_(True)
            for update in range(n_critic):
                real, condition = real_features[rows[update]], attributes[update]
                # the semantic decoder learns the attributes of real features (the cycle's target)
                decoded, _ = self.semantic_decoder_(real)
                semantic_loss = (decoded - condition).abs().sum(dim=1).mean()
                decoder_optimiser.zero_grad(set_to_none=True)
                semantic_loss.backward()
                decoder_optimiser.step()

                with torch.no_grad():
                    fake = self._generate(noise[update], condition)
                critic_loss, wasserstein_distance, gradient_penalty = self._critic_update(
                    real, fake, condition, mix[update], critic_optimiser
                )

            self.critic_.requires_grad_(False)
            self.semantic_decoder_.requires_grad_(False)  # G's losses pass through Dec without training it
            real, condition = real_features[rows[n_critic]], attributes[n_critic]
            mean, log_variance = self.encoder_(real, condition)
            latent = mean + torch.exp(0.5 * log_variance) * torch.randn(
                mean.shape, generator=sample_rng, device=device
            )
            reconstruction = self._generate(latent, condition)
            kl = -0.5 * torch.sum(1 + log_variance - mean.pow(2) - log_variance.exp(), dim=1).mean()
            vae_loss = (reconstruction - real).pow(2).sum(dim=1).mean() + self.vae_kl_weight * kl
            fake = self._generate(noise[n_critic], condition)
            adversarial_loss = -self.critic_(fake, condition).mean()
            decoded_fake, _ = self.semantic_decoder_(fake)
            cycle_loss = (decoded_fake - condition).abs().sum(dim=1).mean()
            generator_loss = (
                vae_loss
                + self.adversarial_weight * adversarial_loss
                + self.semantic_reconstruction_weight * cycle_loss
            )
            classification_loss = torch.zeros((), device=device)
            if self.classification_loss_weight > 0:
                classification_loss = F.cross_entropy(
                    self.seen_classifier_(fake), real_seen_positions[rows[n_critic]]
                )
                generator_loss = generator_loss + self.classification_loss_weight * classification_loss
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
                    vae_loss.detach(),
                    semantic_loss.detach(),
                ]
            )
            progress.step(step + 1, critic_loss=history[0, step], generator_loss=generator_loss.detach())
        for module in (self.generator_, self.encoder_, self.semantic_decoder_, self.feedback_):
            module.requires_grad_(False).eval()
        self.critic_.eval()
        for name, values in zip(names, history.cpu().numpy().astype(np.float64), strict=True):
            self.loss_history_[name] = values

    @torch.no_grad()
    def _classifier_inputs(self, features: torch.Tensor) -> torch.Tensor:
        """[x; h(x)]: the feature and its semantic embedding (TF-VAEGAN's discriminative features)."""
        _, embedding = self.semantic_decoder_(features)
        return torch.cat([features, embedding], dim=1)
