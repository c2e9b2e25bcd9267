"""The per-class report against a case worked out by hand (the scores of test_seen_unseen_curve)."""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.evaluation.per_class import confused_pairs, unseen_class_accuracy
from fsigenz.evaluation.scored_split import ScoredSplit
from tests.evaluation.test_seen_unseen_curve import (
    LABELS_SEEN,
    LABELS_UNSEEN,
    SCORES_SEEN,
    SCORES_UNSEEN,
    SEEN_MASK,
)

NAMES = ("cat", "dog", "zebra", "okapi")


def test_unseen_class_accuracy_by_hand():
    table = unseen_class_accuracy(SCORES_UNSEEN, LABELS_UNSEEN, SEEN_MASK, NAMES, gamma=0.0)
    # okapi: its one image goes to cat (0 % GZSL), right in CZSL; zebra: one of two images right (50 %)
    assert table["class"].tolist() == ["okapi", "zebra"]  # hardest first
    okapi, zebra = table.iloc[0], table.iloc[1]
    assert (okapi["test_images"], okapi["czsl"], okapi["gzsl"], okapi["gzsl_cs"]) == (1, 100.0, 0.0, 0.0)
    assert (okapi["most_confused_with"], okapi["most_confused_share"]) == ("cat", 100.0)
    assert (zebra["test_images"], zebra["czsl"], zebra["gzsl"]) == (2, 100.0, 50.0)
    assert (zebra["most_confused_with"], zebra["most_confused_share"]) == ("cat", 50.0)
    calibrated = unseen_class_accuracy(SCORES_UNSEEN, LABELS_UNSEEN, SEEN_MASK, NAMES, gamma=0.3)
    assert calibrated["gzsl_cs"].tolist() == [100.0, 100.0] and calibrated["most_confused_with"].tolist() == [
        "",
        "",
    ]


def test_confused_pairs_by_hand():
    pairs = confused_pairs(
        SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK, NAMES, gamma=0.0
    )
    assert pairs[["true_class", "predicted_class", "images", "share"]].values.tolist() == [
        ["okapi", "cat", 1, 100.0],
        ["zebra", "cat", 1, 50.0],
    ]
    assert pairs["true_kind"].tolist() == ["unseen", "unseen"] and pairs["predicted_kind"].tolist() == [
        "seen",
        "seen",
    ]
    # γ = 0.3: every unseen image right, the cat image goes to okapi
    shifted = confused_pairs(
        SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK, NAMES, gamma=0.3, top_k=1
    )
    assert shifted[["true_class", "predicted_class", "share"]].values.tolist() == [["cat", "okapi", 100.0]]
    with pytest.raises(ValueError, match="top_k: expected an integer >= 1"):
        confused_pairs(SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK, NAMES, top_k=0)
    with pytest.raises(ValueError, match="class_names: expected one name per score column"):
        unseen_class_accuracy(SCORES_UNSEEN, LABELS_UNSEEN, SEEN_MASK, NAMES[:3])


def test_scored_split_reports_ausuc_with_the_summary_metrics():
    split = ScoredSplit(
        SCORES_UNSEEN, LABELS_UNSEEN, SCORES_SEEN, LABELS_SEEN, SEEN_MASK, NAMES, calibration_gamma=0.3
    )
    report = split.report()
    assert report["ausuc"] == pytest.approx(81.25)
    assert (report["gzsl_unseen"], report["gzsl_seen"]) == pytest.approx((25.0, 100.0))
    assert (report["gzsl_unseen_cs"], report["gzsl_seen_cs"]) == pytest.approx((100.0, 50.0))
    np.testing.assert_array_equal(split.unseen_classes, [2, 3])
