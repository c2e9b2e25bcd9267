"""The evaluation protocol against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.evaluation.metrics import (
    choose_calibration,
    czsl_accuracy,
    gzsl_accuracy,
    harmonic_mean,
    per_class_accuracy,
    zsl_report,
)


def test_per_class_mean_is_not_sample_mean():
    # class 0: 3 of 4 right (75 %), class 1: 0 of 1 (0 %) -> mean 37.5 % (the sample mean would be 60 %)
    assert per_class_accuracy(np.array([0, 0, 0, 0, 1]), np.array([0, 0, 0, 1, 0])) == pytest.approx(37.5)


def test_harmonic_mean_by_hand():
    assert harmonic_mean(60.0, 40.0) == pytest.approx(48.0)  # 2*60*40/100
    assert harmonic_mean(0.0, 0.0) == 0.0


# classes 0, 1 seen; 2, 3 unseen
SEEN_MASK = np.array([True, True, False, False])
SCORES_UNSEEN = np.array(
    [  # true class 2, 2, 3
        [0.9, 0.1, 0.8, 0.0],  # GZSL -> 0 (wrong), CZSL -> 2 (right); with gamma 0.2 -> 2
        [0.1, 0.0, 0.5, 0.2],  # -> 2 right
        [0.6, 0.0, 0.3, 0.5],  # GZSL -> 0 wrong; CZSL -> 3 right; gamma 0.2 -> 0.4 vs 0.5 -> 3
    ]
)
LABELS_UNSEEN = np.array([2, 2, 3])
SCORES_SEEN = np.array(
    [  # true class 0, 1
        [0.7, 0.2, 0.1, 0.6],  # -> 0 right; gamma 0.2 -> 0.5 vs 0.6 -> 3 wrong
        [0.1, 0.9, 0.3, 0.0],  # -> 1 right
    ]
)
LABELS_SEEN = np.array([0, 1])


def test_czsl_restricts_to_unseen():
    assert czsl_accuracy(SCORES_UNSEEN, LABELS_UNSEEN, np.array([2, 3])) == pytest.approx(100.0)


def test_gzsl_by_hand():
    result = gzsl_accuracy(SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK)
    # U: class 2 1/2 right = 50 %, class 3 0/1 = 0 % -> 25 %; S: 100 %; H = 2*25*100/125 = 40
    assert (result.unseen, result.seen, result.harmonic) == pytest.approx((25.0, 100.0, 40.0))


def test_calibrated_stacking_by_hand():
    result = gzsl_accuracy(SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK, gamma=0.2)
    # U: all three right -> 100 %; S: class 0 wrong, class 1 right -> 50 %; H = 66.67
    assert (result.unseen, result.seen) == pytest.approx((100.0, 50.0))
    assert result.harmonic == pytest.approx(200.0 / 3.0)


def test_choose_calibration_improves_h_and_report_keys():
    gamma, best = choose_calibration(SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK)
    assert best.harmonic >= 200.0 / 3.0 - 1e-9 and gamma > 0
    report = zsl_report(
        SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK, np.array([2, 3]), gamma
    )
    assert set(report) >= {
        "czsl_top1",
        "gzsl_unseen",
        "gzsl_seen",
        "gzsl_h",
        "gzsl_unseen_cs",
        "gzsl_seen_cs",
        "gzsl_h_cs",
    }
    assert report["gzsl_h"] == pytest.approx(40.0)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"expected scores of shape \(N, C\) with N = 2"):
        czsl_accuracy(SCORES_UNSEEN, LABELS_SEEN, np.array([2, 3]))
