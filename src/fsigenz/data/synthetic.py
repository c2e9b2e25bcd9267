"""The embedded default data set: a zero-shot benchmark generated from parameters.

Generative story (every draw from one seeded ``numpy.random.Generator``):

1. **Families of classes.** ``n_families`` family attribute patterns are drawn sparse in [0, 1]
   (each attribute on with probability ``attribute_density``). Every class picks a family and
   perturbs its pattern (flips a few attributes, jitters the strengths), so classes share
   attributes the way bird species or scene types do, and class similarity is meaningful.
2. **Attributes → appearance.** The class mean feature is a fixed random two-layer map of the
   class attributes, ``mu_c = W2 tanh(W1 a_c)`` (per-dimension RMS ``class_separation``, in units of
   the image noise), plus a class-specific offset of scale ``unexplained_variation`` that the
   attributes do not describe. The map is shared by all classes, so an unseen class's appearance is
   mostly determined by its attributes: that is what makes the unseen classes learnable. The
   ``tanh`` makes it non-linear, so a linear compatibility model (ESZSL) is good but not perfect.
3. **Sub-groups within a class.** Each class has ``n_subgroups`` modes around its mean (offsets
   of scale ``subgroup_spread``), standing for poses or backgrounds; group-level prototypes are
   meant to cover them.
4. **Images.** Each image picks a sub-group and adds isotropic Gaussian noise (``noise``).
5. **Splits.** Unseen-class images all go to ``test_unseen``; each seen class's images are split
   ``1 - test_seen_fraction`` / ``test_seen_fraction`` into ``trainval`` / ``test_seen``;
   ``n_val_classes`` seen classes are held out as the class-disjoint ``val`` split.

Attributes are returned column-L2-normalised, like xlsa17's ``att``.
"""

from __future__ import annotations

import numpy as np

from fsigenz.data.dataset import ZeroShotDataset, split_by_val_classes

DEFAULTS = dict(
    n_seen_classes=40,
    n_unseen_classes=10,
    n_val_classes=10,
    attribute_dim=32,
    feature_dim=128,
    images_per_class=60,
    n_families=6,
    attribute_density=0.3,
    n_subgroups=3,
    subgroup_spread=0.6,
    class_separation=0.5,
    unexplained_variation=0.4,
    noise=1.0,
    test_seen_fraction=0.2,
    seed=0,
)


APPEARANCE_PARAMETERS = (
    "feature_dim",
    "n_subgroups",
    "subgroup_spread",
    "class_separation",
    "unexplained_variation",
    "noise",
)


def simulate_features(
    class_attributes: np.ndarray, labels: np.ndarray, params: dict, rng: np.random.Generator
) -> np.ndarray:
    """Image features for ``labels`` from class attributes (m, C): steps 2-4 of the story above.

    ``params`` holds the :data:`APPEARANCE_PARAMETERS`. Also used to build stand-ins for real
    benchmarks, on their real attribute matrices.
    """
    attributes = np.asarray(class_attributes, dtype=np.float64)
    m, n_classes = attributes.shape
    d = int(params["feature_dim"])
    hidden = max(m, d // 2)
    w1 = rng.normal(0.0, 2.0 / np.sqrt(m), (hidden, m))
    w2 = rng.normal(0.0, 1.0 / np.sqrt(hidden), (d, hidden))
    class_means = (w2 @ np.tanh(w1 @ attributes)).T  # (C, d)
    # per-dimension RMS of the class means = class_separation (the noise has unit scale)
    class_means *= params["class_separation"] * np.sqrt(d) / np.mean(np.linalg.norm(class_means, axis=1))
    # appearance the attributes do not describe: no method can predict it for an unseen class
    class_means += rng.normal(0.0, params["unexplained_variation"], (n_classes, d))
    subgroup_offsets = rng.normal(0.0, params["subgroup_spread"], (n_classes, int(params["n_subgroups"]), d))
    subgroup = rng.integers(0, int(params["n_subgroups"]), labels.size)
    noise = rng.normal(0.0, params["noise"], (labels.size, d))
    return (class_means[labels] + subgroup_offsets[labels, subgroup] + noise).astype(np.float32)


def make_synthetic_benchmark(**params) -> ZeroShotDataset:
    """Generate a validated :class:`ZeroShotDataset` from the parameters in ``DEFAULTS``."""
    unknown = sorted(set(params) - set(DEFAULTS) - {"type"})
    if unknown:
        raise ValueError(f"synthetic source: unknown parameter(s) {unknown}; known: {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **{k: v for k, v in params.items() if k != "type"}}
    for key in (
        "n_seen_classes",
        "n_unseen_classes",
        "attribute_dim",
        "feature_dim",
        "images_per_class",
        "n_families",
        "n_subgroups",
    ):
        if int(p[key]) < 1:
            raise ValueError(f"synthetic source: field '{key}': expected a positive integer, got {p[key]}")
    if not 0 < p["test_seen_fraction"] < 1:
        raise ValueError(
            f"synthetic source: field 'test_seen_fraction': expected in (0, 1), got {p['test_seen_fraction']}"
        )
    if not 1 <= int(p["n_val_classes"]) < int(p["n_seen_classes"]):
        raise ValueError(
            f"synthetic source: field 'n_val_classes': expected 1..{int(p['n_seen_classes']) - 1}, "
            f"got {p['n_val_classes']}"
        )
    if p["images_per_class"] < 3:
        raise ValueError("synthetic source: field 'images_per_class': expected at least 3")

    rng = np.random.default_rng(p["seed"])
    n_seen, n_unseen = int(p["n_seen_classes"]), int(p["n_unseen_classes"])
    n_classes, m = n_seen + n_unseen, int(p["attribute_dim"])

    # 1. families and class attributes
    family_patterns = (rng.random((p["n_families"], m)) < p["attribute_density"]) * rng.uniform(
        0.5, 1.0, (p["n_families"], m)
    )
    family_of_class = rng.integers(0, p["n_families"], n_classes)
    flips = rng.random((n_classes, m)) < 0.15
    raw = np.abs(family_patterns[family_of_class] - flips * rng.uniform(0.3, 1.0, (n_classes, m)))
    raw = np.clip(raw * rng.uniform(0.7, 1.3, (n_classes, m)), 0.0, 1.0)
    empty = raw.sum(axis=1) == 0
    raw[empty, rng.integers(0, m, empty.sum())] = 1.0  # every class has at least one attribute
    attributes = (raw / np.linalg.norm(raw, axis=1, keepdims=True)).T  # (m, C)

    # 2-4. appearance from attributes, sub-groups and images
    labels = np.repeat(np.arange(n_classes), int(p["images_per_class"]))
    features = simulate_features(attributes, labels, p, rng)
    n_per = int(p["images_per_class"])

    # 5. splits
    class_order = rng.permutation(n_classes)
    seen_classes, unseen_classes = np.sort(class_order[:n_seen]), np.sort(class_order[n_seen:])
    n_test_seen = max(1, int(round(n_per * p["test_seen_fraction"])))
    trainval, test_seen = [], []
    for c in seen_classes:  # per seen class: a handful of classes, not a hot loop
        rows = rng.permutation(np.flatnonzero(labels == c))
        test_seen.append(rows[:n_test_seen])
        trainval.append(rows[n_test_seen:])
    trainval, test_seen = np.sort(np.concatenate(trainval)), np.sort(np.concatenate(test_seen))
    test_unseen = np.flatnonzero(np.isin(labels, unseen_classes))
    val_classes = np.sort(rng.choice(seen_classes, size=int(p["n_val_classes"]), replace=False))
    train, val = split_by_val_classes(labels, trainval, val_classes)

    return ZeroShotDataset(
        features=features.astype(np.float32),
        labels=labels,
        class_names=[f"class_{c:03d}" for c in range(n_classes)],
        class_attributes=attributes,
        seen_classes=seen_classes,
        unseen_classes=unseen_classes,
        splits=dict(trainval=trainval, test_seen=test_seen, test_unseen=test_unseen, train=train, val=val),
        name="synthetic",
        source="synthetic generator",
        metadata={"generator_parameters": p},
    )
