"""Per-class view of a test evaluation: which unseen classes are recognised, which classes get confused.

The summary metrics (:mod:`fsigenz.evaluation.metrics`) are means over classes; these tables show the
classes behind them:

- :func:`unseen_class_accuracy`: one row per unseen class: its test images, its accuracy in CZSL
  (argmax over the unseen classes), in GZSL (over all classes) and in GZSL with calibrated stacking,
  and the class its images are most often mistaken for;
- :func:`confused_pairs`: the (true class, predicted class) pairs that take the largest share of the
  true class's test images, under the GZSL decision with calibrated stacking (the served model's).

Scores are (N, C) over every class, as everywhere in :mod:`fsigenz.evaluation`; accuracies are in %.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fsigenz.evaluation.metrics import _check_scores, gzsl_predictions

UNSEEN_CLASS_COLUMNS = (
    "class",
    "test_images",
    "czsl",
    "gzsl",
    "gzsl_cs",
    "most_confused_with",
    "most_confused_share",
)
CONFUSION_COLUMNS = ("true_class", "true_kind", "predicted_class", "predicted_kind", "images", "share")


def _check_names(class_names: Sequence[str], n_columns: int) -> np.ndarray:
    names = np.asarray([str(n) for n in class_names], dtype=object)
    if names.size != n_columns:
        raise ValueError(f"class_names: expected one name per score column ({n_columns}), got {names.size}")
    return names


def unseen_class_accuracy(
    scores_unseen: np.ndarray,
    labels_unseen: np.ndarray,
    seen_mask: np.ndarray,
    class_names: Sequence[str],
    gamma: float = 0.0,
) -> pd.DataFrame:
    """One row per unseen class with test images, hardest first (lowest calibrated GZSL accuracy).

    ``most_confused_with`` is the class (seen or unseen) that takes the largest share of the class's
    images under calibrated stacking; empty when every image is right.
    """
    scores_unseen = _check_scores(scores_unseen, labels_unseen, "unseen-class accuracy: unseen scores")
    labels_unseen = np.asarray(labels_unseen)
    seen_mask = np.asarray(seen_mask, dtype=bool)
    names = _check_names(class_names, scores_unseen.shape[1])
    unseen_columns = np.flatnonzero(~seen_mask)
    czsl = unseen_columns[np.argmax(scores_unseen[:, unseen_columns], axis=1)]
    gzsl = gzsl_predictions(scores_unseen, seen_mask, 0.0)
    calibrated = gzsl_predictions(scores_unseen, seen_mask, gamma)
    classes = np.unique(labels_unseen)
    rows = []
    for c in classes:
        mine = labels_unseen == c
        wrong = calibrated[mine][calibrated[mine] != c]
        if wrong.size:
            values, counts = np.unique(wrong, return_counts=True)
            confused, share = names[values[np.argmax(counts)]], 100.0 * counts.max() / mine.sum()
        else:
            confused, share = "", 0.0
        rows.append(
            {
                "class": names[c],
                "test_images": int(mine.sum()),
                "czsl": 100.0 * float(np.mean(czsl[mine] == c)),
                "gzsl": 100.0 * float(np.mean(gzsl[mine] == c)),
                "gzsl_cs": 100.0 * float(np.mean(calibrated[mine] == c)),
                "most_confused_with": confused,
                "most_confused_share": share,
            }
        )
    table = pd.DataFrame(rows, columns=list(UNSEEN_CLASS_COLUMNS))
    return table.sort_values(["gzsl_cs", "class"], kind="stable").reset_index(drop=True)


def confused_pairs(
    scores_unseen: np.ndarray,
    labels_unseen: np.ndarray,
    scores_seen: np.ndarray,
    labels_seen: np.ndarray,
    seen_mask: np.ndarray,
    class_names: Sequence[str],
    gamma: float = 0.0,
    top_k: int = 20,
) -> pd.DataFrame:
    """The ``top_k`` most confused (true, predicted) class pairs over both test sets, largest share first.

    ``share``: % of the true class's test images predicted as the other class (calibrated stacking with
    ``gamma``); ``images``: how many. Ties are broken by image count, then by name.
    """
    if isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1:
        raise ValueError(f"top_k: expected an integer >= 1, got {top_k!r}")
    scores_unseen = _check_scores(scores_unseen, labels_unseen, "confused pairs: unseen scores")
    scores_seen = _check_scores(scores_seen, labels_seen, "confused pairs: seen scores")
    seen_mask = np.asarray(seen_mask, dtype=bool)
    names = _check_names(class_names, scores_unseen.shape[1])
    true = np.concatenate([np.asarray(labels_unseen), np.asarray(labels_seen)])
    predicted = np.concatenate(
        [gzsl_predictions(scores_unseen, seen_mask, gamma), gzsl_predictions(scores_seen, seen_mask, gamma)]
    )
    images_of_class = np.bincount(true, minlength=seen_mask.size)
    wrong = true != predicted
    pairs, counts = np.unique(np.stack([true[wrong], predicted[wrong]], axis=1), axis=0, return_counts=True)
    kind = np.where(seen_mask, "seen", "unseen")
    table = pd.DataFrame(
        {
            "true_class": names[pairs[:, 0]] if pairs.size else [],
            "true_kind": kind[pairs[:, 0]] if pairs.size else [],
            "predicted_class": names[pairs[:, 1]] if pairs.size else [],
            "predicted_kind": kind[pairs[:, 1]] if pairs.size else [],
            "images": counts.astype(int) if pairs.size else [],
            "share": 100.0 * counts / images_of_class[pairs[:, 0]] if pairs.size else [],
        },
        columns=list(CONFUSION_COLUMNS),
    )
    table = table.sort_values(
        ["share", "images", "true_class", "predicted_class"],
        ascending=[False, False, True, True],
        kind="stable",
    )
    return table.head(int(top_k)).reset_index(drop=True)
