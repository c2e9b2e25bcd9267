"""ESZSL against its closed form computed independently, and on a synthetic benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.methods.base import ZeroShotTask
from fsigenz.methods.eszsl import ESZSL
from fsigenz.protocol import final_protocol


def test_matches_the_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5)).astype(np.float32)
    labels = np.array([0, 1, 2] * 4)
    attributes = rng.random((4, 5))  # m=4, C=5: classes 0-2 seen, 3-4 unseen
    task = ZeroShotTask(x, labels, attributes, np.array([0, 1, 2]), np.array([3, 4]))
    model = ESZSL(feature_regularization=0.5, attribute_regularization=2.0).fit(task)
    # by the formula of Romera-Paredes & Torr (eq. 5), written out with explicit inverses
    xc = (x - x.mean(axis=0)).astype(np.float64).T
    y = -np.ones((12, 3))
    y[np.arange(12), labels] = 1
    s = attributes[:, :3]
    v = np.linalg.inv(xc @ xc.T + 0.5 * np.eye(5)) @ xc @ y @ s.T @ np.linalg.inv(s @ s.T + 2.0 * np.eye(4))
    np.testing.assert_allclose(model.compatibility_, v, rtol=1e-4, atol=1e-7)  # float32 features
    np.testing.assert_allclose(model.decision_function(x), xc.T @ v @ attributes, rtol=1e-4, atol=1e-5)


def test_beats_chance_on_synthetic(small_synthetic):
    protocol = final_protocol(small_synthetic)
    model = ESZSL(feature_regularization=100.0, attribute_regularization=1.0).fit(protocol.task)
    metrics = protocol.evaluate(model)
    chance = 100.0 / small_synthetic.unseen_classes.size
    assert metrics["czsl_top1"] > 2 * chance


def test_new_class_attributes_dimension_is_checked(small_synthetic):
    protocol = final_protocol(small_synthetic)
    model = ESZSL().fit(protocol.task)
    with pytest.raises(ValueError, match="expected 20 attribute rows"):
        model.decision_function(protocol.unseen_features, class_attributes=np.ones((3, 2)))
