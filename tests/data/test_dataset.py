"""The data model rejects every malformed input with a message naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.data.dataset import DataValidationError, ZeroShotDataset


def _fields(ds: ZeroShotDataset) -> dict:
    return dict(
        features=ds.features.copy(),
        labels=ds.labels.copy(),
        class_names=list(ds.class_names),
        class_attributes=ds.class_attributes.copy(),
        seen_classes=ds.seen_classes.copy(),
        unseen_classes=ds.unseen_classes.copy(),
        splits={k: v.copy() for k, v in ds.splits.items()},
    )


def test_valid_dataset_summary(small_synthetic):
    summary = small_synthetic.summary()
    assert summary["n_classes"] == 22 and summary["n_seen"] == 16 and summary["n_unseen"] == 6
    assert summary["n_train"] + summary["n_val"] == summary["n_trainval"]
    assert small_synthetic.features.dtype == np.float32


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda f: f["features"].__setitem__((3, 2), np.nan), "features", "NaN or Inf"),
        (lambda f: f["features"].__setitem__((0, 0), np.inf), "features", "NaN or Inf"),
        (lambda f: f.__setitem__("labels", f["labels"][:-1]), "labels", "one label per feature row"),
        (lambda f: f["labels"].__setitem__(0, 99), "labels", "class indices in [0, 21]"),
        (
            lambda f: f.__setitem__("class_attributes", f["class_attributes"][:, :-1]),
            "class_attributes",
            "C = 22",
        ),
        (lambda f: f["class_attributes"].__setitem__((0, 0), np.nan), "class_attributes", "NaN"),
        (lambda f: f["class_attributes"].__setitem__((slice(None), 0), 0.0), "class_attributes", "all-zero"),
        (
            lambda f: f.__setitem__("class_names", f["class_names"][:-1] + [f["class_names"][0]]),
            "class_names",
            "unique",
        ),
        (
            lambda f: f.__setitem__("unseen_classes", np.append(f["unseen_classes"], f["seen_classes"][0])),
            "unseen_classes",
            "both seen and unseen",
        ),
        (lambda f: f["splits"].pop("val"), "splits", "missing split"),
        (
            lambda f: f["splits"].__setitem__(
                "test_seen", np.append(f["splits"]["test_seen"], f["splits"]["trainval"][0])
            ),
            "splits.test_seen",
            "overlaps",
        ),
        (
            lambda f: f["splits"].__setitem__("trainval", np.append(f["splits"]["trainval"], 10_000)),
            "splits.trainval",
            "out of range",
        ),
    ],
)
def test_bad_fields_are_named(small_synthetic, mutate, field, words):
    fields = _fields(small_synthetic)
    mutate(fields)
    with pytest.raises(DataValidationError) as error:
        ZeroShotDataset(**fields, source="unit-test")
    message = str(error.value)
    assert f"field '{field}'" in message and words in message and "unit-test" in message


def test_test_unseen_image_of_a_seen_class_is_rejected(small_synthetic):
    fields = _fields(small_synthetic)
    seen_row = fields["splits"]["test_seen"][0]
    fields["splits"]["test_seen"] = fields["splits"]["test_seen"][1:]
    fields["splits"]["test_unseen"] = np.append(fields["splits"]["test_unseen"], seen_row)
    with pytest.raises(DataValidationError, match=r"splits.test_unseen.*holds images of seen classes"):
        ZeroShotDataset(**fields)


def test_empty_unseen_class_is_rejected(small_synthetic):
    fields = _fields(small_synthetic)
    unseen = fields["unseen_classes"][0]
    rows = fields["splits"]["test_unseen"]
    fields["splits"]["test_unseen"] = rows[fields["labels"][rows] != unseen]
    with pytest.raises(DataValidationError, match="unseen classes with no test image"):
        ZeroShotDataset(**fields)


def test_train_and_val_must_be_class_disjoint(small_synthetic):
    fields = _fields(small_synthetic)
    train, val = fields["splits"]["train"], fields["splits"]["val"]
    # move one val image into train: its class is now in both
    fields["splits"]["train"], fields["splits"]["val"] = np.append(train, val[0]), val[1:]
    with pytest.raises(DataValidationError, match="class-disjoint"):
        ZeroShotDataset(**fields)
