"""Model selection warns when a chosen value sits on the edge of its grid (the optimum may lie beyond it)."""

from __future__ import annotations

import logging

import numpy as np

from fsigenz.protocol import edge_selections, select_model, validation_protocol


def test_edge_selections_names_the_parameters_at_an_end_of_their_grid():
    grid = {"a": [0.1, 1.0, 10.0], "b": [1, 2, 3, 4], "c": [1.0, 2.0], "d": ["x", "y", "z"]}
    assert edge_selections(grid, {"a": 10.0, "b": 2, "c": 2.0, "d": "z"}) == ["a"]  # c: 2 values, d: words
    assert edge_selections(grid, {"a": 1.0, "b": 1}) == ["b"]
    assert edge_selections(grid, {"a": 1.0, "b": 3}) == []
    assert edge_selections(None, {"a": 0.1}) == []


class _Oracle:
    """Adds ``quality`` to the true class's random score: validation accuracy grows with ``quality``."""

    def __init__(self, protocol, quality: float) -> None:
        self.protocol, self.quality = protocol, quality

    def fit(self, task, monitor=None):
        return self

    def decision_function(self, features):
        protocol = self.protocol
        labels = protocol.unseen_labels if features is protocol.unseen_features else protocol.seen_labels
        scores = np.random.default_rng(0).random((features.shape[0], protocol.task.n_classes))
        scores[np.arange(labels.size), labels] += self.quality
        return scores.astype(np.float32)


def test_selection_on_a_grid_edge_logs_a_warning_naming_the_parameter(small_synthetic, caplog):
    protocol = validation_protocol(small_synthetic)

    def build(params):
        return _Oracle(protocol, params["quality"])

    with caplog.at_level(logging.WARNING, logger="fsigenz.protocol"):
        result = select_model(protocol, build, {}, {"quality": [0.0, 2.0, 0.5]}, "czsl_top1")
    assert result.setting == {"quality": 2.0} and result.on_grid_edge == ["quality"]
    assert "'quality' chose 2.0, the largest value of its grid [0.0 .. 2.0]" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fsigenz.protocol"):
        inside = select_model(protocol, build, {}, {"quality": [0.0, 2.0, 5.0]}, "czsl_top1")
    # scores of 2.0 and 5.0 both put every true class first: the first of the two is kept, inside the grid
    assert inside.setting == {"quality": 2.0} and inside.on_grid_edge == []
    assert "selection grid" not in caplog.text
