"""CUB- and SUN-sized stand-in datasets for the benchmarks (the real image features are not public here).

With the real xlsa17 split files beside the checkout (``../shared/data/CUB`` and ``SUN``), a stand-in is
that folder plus a simulated ``res101.mat`` written on the real split locations
(:func:`fsigenz.data.xlsa17.write_res101_standin`), so every size is the real one:

    CUB: 7 057 trainval / 4 731 test images (1 764 test_seen + 2 967 test_unseen),
         200 classes, 312 attributes
    SUN: 10 320 trainval / 4 020 test images (2 580 test_seen + 1 440 test_unseen),
         717 classes, 102 attributes

and d = 768 (a ViT-B/16 feature). Without them, :func:`fsigenz.data.synthetic.make_synthetic_benchmark`
generates a dataset of the same class, attribute and image counts (the source block says which).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import harness  # noqa: F401  (puts src/ on sys.path)

FEATURE_DIM = 768
QUICK_FEATURE_DIM = 64
SHARED_FOLDERS = {"cub": "CUB", "sun": "SUN"}
# Fallback sizes: classes, unseen classes, attributes, images per class (≈ the real totals).
SYNTHETIC_SIZES = {
    "cub": dict(
        n_seen_classes=150, n_unseen_classes=50, n_val_classes=50, attribute_dim=312, images_per_class=59
    ),
    "sun": dict(
        n_seen_classes=645, n_unseen_classes=72, n_val_classes=65, attribute_dim=102, images_per_class=20
    ),
}
COPIED_FILES = ("att_splits.mat", "testclasses.txt", "valclasses1.txt")


def feature_dim(quick: bool) -> int:
    return QUICK_FEATURE_DIM if quick else FEATURE_DIM


def write_standin(name: str, folder: Path, quick: bool = False) -> dict:
    """Write the stand-in of ``name`` (cub | sun) into ``folder``; return its source block."""
    from fsigenz.data.xlsa17 import write_res101_standin

    shared = harness.SHARED_DATA / SHARED_FOLDERS[name]
    folder.mkdir(parents=True, exist_ok=True)
    if (shared / "att_splits.mat").is_file():
        for file in COPIED_FILES:
            if (shared / file).is_file():
                shutil.copyfile(shared / file, folder / file)
        write_res101_standin(folder / "att_splits.mat", folder / "res101.mat", feature_dim=feature_dim(quick))
        return {"type": "xlsa17", "directory": str(folder), "name": name}
    return {
        "type": "synthetic",
        **SYNTHETIC_SIZES[name],
        "feature_dim": feature_dim(quick),
        "seed": 0,
    }


def describe(dataset) -> dict:
    """The sizes the benchmarks report next to their timings."""
    splits = dataset.splits
    return {
        "classes": int(dataset.n_classes),
        "seen_classes": int(len(dataset.seen_classes)),
        "unseen_classes": int(len(dataset.unseen_classes)),
        "attributes": int(dataset.attribute_dim),
        "feature_dim": int(dataset.feature_dim),
        "trainval_images": int(splits["trainval"].size),
        "test_images": int(splits["test_seen"].size + splits["test_unseen"].size),
        "source": dataset.source,
    }
