"""Test images and a tiny backbone, shared by the feature-extraction and serving tests (all offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

TINY_MODEL = "vit_tiny_patch16_224"  # 192-d; random init unless a checkpoint is given


def save_image(path: Path, rng: np.random.Generator, index: int) -> None:
    """A random RGB image whose size depends on ``index`` (the transform must resize and crop)."""
    height, width = 24 + 7 * index, 32 + 5 * index
    pixels = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def save_checkpoint(path: Path, seed: int) -> Path:
    """A timm state dict of :data:`TINY_MODEL` with its 1000-class head, as released weights come."""
    import timm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = timm.create_model(TINY_MODEL, pretrained=False)
    torch.save(model.state_dict(), path)
    return path
