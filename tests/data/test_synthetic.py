"""The embedded default is deterministic, well-formed and learnable from attributes."""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.data.synthetic import make_synthetic_benchmark


def test_deterministic_for_a_seed():
    a, b = make_synthetic_benchmark(seed=3), make_synthetic_benchmark(seed=3)
    assert np.array_equal(a.features, b.features) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.features, make_synthetic_benchmark(seed=4).features)


def test_sizes_follow_parameters():
    ds = make_synthetic_benchmark(
        n_seen_classes=12,
        n_unseen_classes=4,
        n_val_classes=3,
        attribute_dim=10,
        feature_dim=16,
        images_per_class=10,
    )
    assert ds.features.shape == (160, 16) and ds.class_attributes.shape == (10, 16)
    assert ds.val_classes.size == 3 and ds.unseen_classes.size == 4
    assert np.allclose(np.linalg.norm(ds.class_attributes, axis=0), 1.0)  # xlsa17-style columns


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match="unknown parameter.*n_classes"):
        make_synthetic_benchmark(n_classes=3)
