"""The image backbone: a timm model returning one feature vector per image, with its preprocessing.

Weights come from one of three places, decided before anything touches the network:

- ``checkpoint_file``: a local file (``.safetensors``, ``.pth``/``.bin``, or a timm ``.npz``), loaded
  through timm's ``pretrained_cfg_overlay=dict(file=...)``; its keys are checked against the model, so
  a checkpoint of another model fails instead of leaving random weights;
- the Hugging Face hub (``pretrained=True``): taken from the local hub cache when it holds the file,
  downloaded otherwise. With no cached file and no network (``HF_HUB_OFFLINE`` set, or the hub host
  unreachable within :data:`HUB_PROBE_TIMEOUT_S`), :class:`BackboneWeightsError` is raised at once
  instead of ``huggingface_hub``'s ~45 s of retries;
- ``pretrained=False``: a random initialisation, seeded (:data:`RANDOM_INIT_SEED`) so that runs agree;
  the network is never touched.

The model is built with ``num_classes=0``, so its output is timm's pooled pre-logits feature: for
the ViTs of FSIGenZ, the CLS token after the final norm (768-d for ViT-B/16).

A built backbone can be turned into a :class:`BackboneSnapshot` (model name, weights as a state dict,
preprocessing config): plain data that travels with a served model and rebuilds the same feature
extractor offline, wherever its weights first came from.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import timm
import torch
from timm.data import create_transform, resolve_model_data_config

from fsigenz.device import resolve_device

DEFAULT_MODEL = "vit_base_patch16_224.augreg_in1k"
RANDOM_INIT_SEED = 0
HUB_PROBE_TIMEOUT_S = 0.8
HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
WEIGHT_SOURCES = ("file", "hub", "random")  # identity()["weights"]
_TRUE_STRINGS = {"1", "on", "yes", "true"}

logger = logging.getLogger(__name__)


class BackboneWeightsError(RuntimeError):
    """The backbone's weights cannot be loaded; the message says from where and what to do instead."""


@dataclass
class Backbone:
    """A feature extractor: ``model`` (timm, no classifier) plus the ``transform`` it expects.

    ``identity`` records what determines the features (model, weights, precision; the preprocessing
    follows from the model); extraction uses it to decide whether saved chunks may be reused.
    """

    model: torch.nn.Module
    transform: object
    device: torch.device
    autocast_dtype: torch.dtype | None
    feature_dim: int
    data_config: dict
    identity: dict = field(default_factory=dict)

    @torch.inference_mode()
    def embed(self, images: torch.Tensor) -> np.ndarray:
        """(B, 3, H, W) preprocessed images → (B, d) float32 features."""
        images = images.to(self.device, non_blocking=True)
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else nullcontext()
        )
        with autocast:
            features = self.model(images)
        return features.float().cpu().numpy()

    def snapshot(self) -> BackboneSnapshot:
        """This backbone as plain data (weights copied to the CPU), to save and rebuild elsewhere."""
        if "model_name" not in self.identity:
            raise ValueError("Backbone.identity: no 'model_name'; build the backbone with BackboneSpec.build")
        state_dict = {
            name: tensor.detach().to("cpu", copy=True) for name, tensor in self.model.state_dict().items()
        }
        return BackboneSnapshot(
            model_name=self.identity["model_name"],
            state_dict=state_dict,
            data_config=dict(self.data_config),
            identity=dict(self.identity),
        )


def _hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now (huggingface_hub reads it only once, at import)."""
    import huggingface_hub.constants as hub_constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return env.strip().lower() in _TRUE_STRINGS or bool(hub_constants.HF_HUB_OFFLINE)


def host_reachable(url: str, timeout_s: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout_s`` (DNS included)."""
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    if not host:
        return False
    outcome: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    # a thread, because socket timeouts do not bound the DNS lookup
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(outcome and outcome[0])


def _cached_hub_file(hub_id: str, filename: str | None, cache_dir: str | None) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    repo_id, _, revision = hub_id.partition("@")
    for name in (filename,) if filename else HUB_WEIGHT_FILES:
        cached = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir, revision=revision or None)
        if isinstance(cached, str):
            return cached
    return None


def _hub_weights_file(model_name: str, cfg, cache_dir: str | None) -> str | None:
    """The cached weight file of ``model_name``, or None when they must (and can) be downloaded."""
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise BackboneWeightsError(
            f"model_name: timm has no pretrained weights for {model_name!r}; set checkpoint_file to a "
            "local weight file or pretrained: false"
        )
    if cfg.hf_hub_id:
        import huggingface_hub.constants as hub_constants

        cached = _cached_hub_file(cfg.hf_hub_id, cfg.hf_hub_filename, cache_dir)
        if cached:
            return cached
        source, probe_url = f"hub repository {cfg.hf_hub_id}", hub_constants.ENDPOINT
    else:
        source, probe_url = cfg.url, cfg.url
    if _hub_offline():
        reason = "HF_HUB_OFFLINE is set"
    elif not host_reachable(probe_url):
        reason = f"{urlparse(probe_url).hostname} is unreachable"
    else:
        return None
    raise BackboneWeightsError(
        f"model_name: the weights of {model_name!r} are not in the local cache and cannot be "
        f"downloaded ({reason}; source: {source}). Download them where there is network and set "
        "checkpoint_file to the local file (e.g. model.safetensors), or set pretrained: false for "
        "a random initialisation."
    )


def _verify_checkpoint_keys(model: torch.nn.Module, checkpoint: Path, model_name: str) -> None:
    """Fail when the checkpoint lacks weights of the model (timm loads non-strictly without a head)."""
    if checkpoint.suffix == ".npz":  # original JAX weights: timm's own loader maps every key
        return
    file_keys = set(timm.models.load_state_dict(str(checkpoint)).keys())
    missing = [key for key in model.state_dict() if key not in file_keys]
    if missing:
        raise BackboneWeightsError(
            f"checkpoint_file: '{checkpoint}' holds no weights for {len(missing)} of the "
            f"{len(model.state_dict())} tensors of {model_name!r} (e.g. {missing[:3]}); expected a timm "
            "state dict of that model"
        )


@dataclass(frozen=True)
class BackboneSpec:
    """What to build: a timm model name and where its weights come from; cheap until :meth:`build`.

    ``identity`` describes the features this backbone produces without building it, so that finished
    work can be recognised before a model is loaded.
    """

    model_name: str = DEFAULT_MODEL
    pretrained: bool = True
    checkpoint_file: str | Path | None = None
    device: str = "auto"
    cache_dir: str | Path | None = None

    @classmethod
    def from_identity(
        cls, identity: dict, device: str = "auto", cache_dir: str | Path | None = None
    ) -> BackboneSpec:
        """The spec whose :meth:`identity` is ``identity`` (up to precision, which follows the device)."""
        weights = identity.get("weights")
        if weights not in WEIGHT_SOURCES or "model_name" not in identity:
            raise ValueError(
                f"identity: expected 'model_name' and 'weights' one of {WEIGHT_SOURCES}, got {identity!r}"
            )
        if weights == "random" and identity.get("seed", RANDOM_INIT_SEED) != RANDOM_INIT_SEED:
            raise ValueError(
                f"identity: field 'seed': random weights use seed {RANDOM_INIT_SEED}, got {identity['seed']}"
            )
        return cls(
            model_name=identity["model_name"],
            pretrained=weights != "random",
            checkpoint_file=identity.get("file") if weights == "file" else None,
            device=device,
            cache_dir=cache_dir,
        )

    def identity(self) -> dict:
        checkpoint = Path(self.checkpoint_file) if self.checkpoint_file else None
        if checkpoint is not None:
            if not checkpoint.is_file():
                raise BackboneWeightsError(
                    f"checkpoint_file: expected a weight file at '{checkpoint}', found none"
                )
            weights = {
                "weights": "file",
                "file": str(checkpoint.resolve()),
                "bytes": checkpoint.stat().st_size,
            }
        elif self.pretrained:
            weights = {"weights": "hub"}
        else:
            weights = {"weights": "random", "seed": RANDOM_INIT_SEED}
        precision = "bf16" if resolve_device(self.device).type == "cuda" else "fp32"
        return {"model_name": self.model_name, **weights, "precision": precision}

    def build(self) -> Backbone:
        """Create the model (see the module docstring for where the weights come from)."""
        model_name = self.model_name
        if not timm.is_model(model_name):
            raise ValueError(f"model_name: {model_name!r} is not a timm model (see timm.list_models())")
        try:
            cfg = timm.models.get_pretrained_cfg(model_name)
        except RuntimeError as error:  # a known architecture with an unknown pretrained tag
            raise ValueError(f"model_name: {error}") from error
        identity = self.identity()  # also checks that a given checkpoint file exists
        device = resolve_device(self.device)
        cache_dir = str(self.cache_dir) if self.cache_dir is not None else None
        checkpoint = Path(self.checkpoint_file) if self.checkpoint_file else None
        if checkpoint is None and self.pretrained:
            cached = _hub_weights_file(model_name, cfg, cache_dir)
            checkpoint = Path(cached) if cached else None

        if checkpoint is not None:
            overlay = {"file": str(checkpoint)}
            if checkpoint.suffix == ".npz":  # original JAX weights need timm's custom loader
                overlay["custom_load"] = True
            model = timm.create_model(
                model_name, pretrained=True, num_classes=0, pretrained_cfg_overlay=overlay
            )
            _verify_checkpoint_keys(model, checkpoint, model_name)
        elif self.pretrained:
            logger.info("Downloading the weights of %s", model_name)
            model = timm.create_model(model_name, pretrained=True, num_classes=0, cache_dir=cache_dir)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_INIT_SEED)
                model = timm.create_model(model_name, pretrained=False, num_classes=0)

        return _feature_extractor(model, device, identity)


def _feature_extractor(
    model: torch.nn.Module, device: torch.device, identity: dict, data_config: dict | None = None
) -> Backbone:
    """``model`` in eval mode on ``device`` with its eval preprocessing (from ``data_config``, else the
    model's)."""
    model = model.eval().to(device)
    data_config = dict(data_config) if data_config is not None else resolve_model_data_config(model)
    return Backbone(
        model=model,
        transform=create_transform(**data_config, is_training=False),
        device=device,
        autocast_dtype=torch.bfloat16 if device.type == "cuda" else None,
        feature_dim=int(getattr(model, "head_hidden_size", None) or model.num_features),
        data_config=data_config,
        identity=identity,
    )


@dataclass(frozen=True, eq=False)  # eq would compare tensors
class BackboneSnapshot:
    """A built backbone as plain data: timm ``model_name``, its weights (``state_dict``, CPU tensors),
    the preprocessing ``data_config`` it used and its ``identity``.

    :meth:`build` makes the same feature extractor again — same architecture, weights and transform —
    without the network or the original weight file. Its size is the weights' (about 350 MB for
    ViT-B/16 in float32).
    """

    model_name: str
    state_dict: dict
    data_config: dict
    identity: dict

    def build(self, device: str = "auto") -> Backbone:
        """The feature extractor, on ``device`` (``auto``: CUDA with bf16 autocast when present, else CPU)."""
        with torch.random.fork_rng(devices=[]):  # the random init is overwritten; keep the caller's RNG
            model = timm.create_model(self.model_name, pretrained=False, num_classes=0)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as error:
            raise BackboneWeightsError(
                f"state_dict: not the weights of {self.model_name!r} built with num_classes=0 ({error})"
            ) from error
        return _feature_extractor(model, resolve_device(device), dict(self.identity), self.data_config)


def create_backbone(
    model_name: str = DEFAULT_MODEL,
    pretrained: bool = True,
    checkpoint_file: str | Path | None = None,
    device: str = "auto",
    cache_dir: str | Path | None = None,
) -> Backbone:
    """Build ``model_name`` (any timm model) as a feature extractor with its own eval preprocessing.

    On CUDA the forward runs under bf16 autocast; on CPU in float32.
    """
    return BackboneSpec(model_name, pretrained, checkpoint_file, device, cache_dir).build()
