"""Shared fixtures: a small synthetic benchmark and the real xlsa17 files from ../shared/data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
XLSA17 = {"cub": "CUB", "awa2": "AWA2", "sun": "SUN"}


def shared_dataset_dir(namespace: str) -> Path:
    """The real xlsa17 folder of a dataset, or skip (saying why) when it is not beside the checkout."""
    folder = SHARED_DATA / XLSA17[namespace]
    if not (folder / "att_splits.mat").is_file():
        pytest.skip(
            f"real xlsa17 files not found at {folder} (they live in ../shared/data beside the checkout)"
        )
    return folder


@pytest.fixture
def real_xlsa17_copy(tmp_path):
    """Copy a real xlsa17 folder into tmp_path and add a simulated res101.mat on its real split locations."""
    from fsigenz.data.xlsa17 import write_res101_standin

    def make(namespace: str, feature_dim: int = 32) -> Path:
        target = tmp_path / namespace
        shutil.copytree(shared_dataset_dir(namespace), target)
        for path in target.rglob("*"):
            path.chmod(0o644)
        target.chmod(0o755)
        write_res101_standin(target / "att_splits.mat", target / "res101.mat", feature_dim=feature_dim)
        return target

    return make


@pytest.fixture(scope="session")
def small_synthetic():
    from fsigenz.data.synthetic import make_synthetic_benchmark

    return make_synthetic_benchmark(
        n_seen_classes=16,
        n_unseen_classes=6,
        n_val_classes=5,
        attribute_dim=20,
        feature_dim=32,
        images_per_class=30,
        seed=1,
    )


@pytest.fixture(scope="module")
def single_torch_thread():
    """One intra-op thread for the module: tiny GEMMs gain nothing from more, far less so when other
    processes share the two cores, and runs stay repeatable."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
