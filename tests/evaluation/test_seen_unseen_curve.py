"""AUSUC and the seen-unseen curve against a case worked out by hand, and against the GZSL metric itself."""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.evaluation.metrics import ausuc, czsl_accuracy, gzsl_accuracy, seen_unseen_curve

# classes 0, 1 seen; 2, 3 unseen. Scores are exact in binary so the breakpoints tie where they should.
SEEN_MASK = np.array([True, True, False, False])
SCORES_UNSEEN = np.array(
    [  # true class 2, 2, 3
        [0.75, 0.0, 0.5, 0.0],  # best seen 0 (wrong), best unseen 2 (right): flips at γ = 0.25
        [0.0, 0.25, 0.75, 0.0],  # best unseen 2 (right) already at γ > -0.5
        [0.5, 0.0, 0.0, 0.25],  # best seen 0 (wrong), best unseen 3 (right): flips at γ = 0.25
    ]
)
LABELS_UNSEEN = np.array([2, 2, 3])
SCORES_SEEN = np.array(
    [  # true class 0, 1
        [0.75, 0.0, 0.0, 0.5],  # right until γ = 0.25, then class 3
        [0.0, 1.0, 0.5, 0.0],  # right until γ = 0.5, then class 2
    ]
)
LABELS_SEEN = np.array([0, 1])


def test_curve_and_area_by_hand():
    curve = seen_unseen_curve(SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK)
    # γ < -0.5: all seen -> U 0, S 100; (-0.5, 0.25): image 2 right -> U = (50 + 0) / 2 = 25, S 100;
    # (0.25, 0.5): every unseen image right, seen image 1 wrong -> U 100, S 50; γ > 0.5: U 100, S 0
    np.testing.assert_allclose(curve.breakpoints, [-0.5, 0.25, 0.5])
    np.testing.assert_allclose(curve.unseen, [0, 25, 100, 100])
    np.testing.assert_allclose(curve.seen, [100, 100, 50, 0])
    # area with accuracies as fractions: 0.25 · 1 + 0.75 · (1 + 0.5) / 2 + 0 = 0.8125 -> 81.25
    assert curve.area == pytest.approx(81.25)
    assert ausuc(SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK) == pytest.approx(81.25)
    np.testing.assert_allclose(curve.harmonic, [0, 40, 200 / 3, 0])


def test_every_point_is_the_gzsl_accuracy_at_its_gamma_and_the_ends_are_czsl_and_seen_only():
    rng = np.random.default_rng(3)
    mask = np.array([True] * 5 + [False] * 4)
    scores_unseen, labels_unseen = rng.normal(size=(60, 9)), rng.integers(5, 9, 60)
    scores_seen, labels_seen = rng.normal(size=(50, 9)), rng.integers(0, 5, 50)
    curve = seen_unseen_curve(scores_unseen, labels_unseen, scores_seen, labels_seen, mask)
    for gamma, unseen, seen in zip(curve.gammas[1:-1], curve.unseen[1:-1], curve.seen[1:-1], strict=True):
        expected = gzsl_accuracy(scores_unseen, labels_unseen, scores_seen, labels_seen, mask, gamma)
        assert (unseen, seen) == pytest.approx((expected.unseen, expected.seen))
    assert curve.unseen[0] == 0 and curve.seen[-1] == 0
    assert curve.unseen[-1] == pytest.approx(czsl_accuracy(scores_unseen, labels_unseen, np.arange(5, 9)))
    seen_only = czsl_accuracy(scores_seen, labels_seen, np.arange(5))  # argmax over the seen classes only
    assert curve.seen[0] == pytest.approx(seen_only)
    assert np.all(np.diff(curve.unseen) >= -1e-9) and np.all(np.diff(curve.seen) <= 1e-9)


def test_a_perfect_scorer_has_area_100_and_a_constant_one_a_triangle():
    mask = np.array([True, True, False, False])
    labels_unseen, labels_seen = np.array([2, 3]), np.array([0, 1])
    perfect = seen_unseen_curve(
        np.eye(4)[labels_unseen], labels_unseen, np.eye(4)[labels_seen], labels_seen, mask
    )
    assert perfect.area == pytest.approx(100.0)
    constant = np.zeros((2, 4))  # every image: class 0 for γ < 0, class 2 for γ > 0
    curve = seen_unseen_curve(constant, labels_unseen, constant, labels_seen, mask)
    np.testing.assert_allclose(np.c_[curve.unseen, curve.seen], [[0, 50], [50, 0]])
    assert curve.area == pytest.approx(12.5)  # the triangle 0.5 · 0.5 / 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seen_mask": np.array([True, True, True, True])}, "both seen and unseen"),
        ({"seen_mask": np.array([True, False])}, "one flag per score column"),
        ({"scores_seen": np.array([[np.nan, 0, 0, 0], [0, 1, 0, 0]])}, "seen scores contain NaN"),
        ({"labels_unseen": np.array([2, 3])}, r"expected scores of shape \(N, C\) with N = 2"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    arguments = dict(
        scores_unseen=SCORES_UNSEEN,
        labels_unseen=LABELS_UNSEEN,
        scores_seen=SCORES_SEEN,
        labels_seen=LABELS_SEEN,
        seen_mask=SEEN_MASK,
    )
    with pytest.raises(ValueError, match=message):
        seen_unseen_curve(**{**arguments, **kwargs})
