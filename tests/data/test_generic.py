"""The generic format round-trips and reports its faults by file and field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fsigenz.data.dataset import DataValidationError
from fsigenz.data.generic import load_generic, write_generic
from fsigenz.data.sources import load_source


def test_round_trip(small_synthetic, tmp_path):
    write_generic(small_synthetic, tmp_path)
    ds = load_source({"type": "generic", "directory": str(tmp_path)})
    assert ds.n_classes == small_synthetic.n_classes
    assert np.array_equal(np.sort(ds.val_classes), np.sort(small_synthetic.val_classes))
    for split in ("trainval", "test_seen", "test_unseen"):
        assert ds.splits[split].size == small_synthetic.splits[split].size
    np.testing.assert_allclose(ds.class_attributes, small_synthetic.class_attributes)


def test_bad_split_value_names_row(small_synthetic, tmp_path):
    write_generic(small_synthetic, tmp_path)
    images = pd.read_csv(tmp_path / "images.csv")
    images.loc[3, "split"] = "testing"
    images.to_csv(tmp_path / "images.csv", index=False)
    with pytest.raises(
        DataValidationError, match=r"images.csv: field 'split': expected one of .* got 'testing' \(row 5\)"
    ):
        load_generic(tmp_path)


def test_unknown_class_and_missing_column(small_synthetic, tmp_path):
    write_generic(small_synthetic, tmp_path)
    images = pd.read_csv(tmp_path / "images.csv")
    images.loc[0, "label"] = "dragon"
    images.to_csv(tmp_path / "images.csv", index=False)
    with pytest.raises(
        DataValidationError,
        match=r"field 'label': classes without a row in class_attributes.csv: \['dragon'\]",
    ):
        load_generic(tmp_path)
    images.drop(columns="split").to_csv(tmp_path / "images.csv", index=False)
    with pytest.raises(DataValidationError, match=r"images.csv: missing column 'split'"):
        load_generic(tmp_path)


def test_row_count_mismatch_and_missing_file(small_synthetic, tmp_path):
    write_generic(small_synthetic, tmp_path)
    np.save(tmp_path / "features.npy", np.zeros((5, 4), dtype=np.float32))
    with pytest.raises(
        DataValidationError, match=r"images.csv: expected one row per feature row \(5 in features.npy\)"
    ):
        load_generic(tmp_path)
    (tmp_path / "features.npy").unlink()
    with pytest.raises(DataValidationError, match=r"features.npy: file not found"):
        load_generic(tmp_path)


def test_unknown_source_type_and_option():
    with pytest.raises(DataValidationError, match=r"field 'type': expected one of"):
        load_source({"type": "imagenet"})
    with pytest.raises(DataValidationError, match=r"unknown option\(s\) \['folder'\]"):
        load_source({"type": "generic", "folder": "x"})


@pytest.mark.parametrize("file_name", ["images.csv", "class_attributes.csv"])
def test_empty_csv_is_named(small_synthetic, tmp_path, file_name):
    write_generic(small_synthetic, tmp_path)
    (tmp_path / file_name).write_text("")
    with pytest.raises(DataValidationError, match=rf"{file_name}: the file is empty; expected .*column"):
        load_generic(tmp_path)


@pytest.mark.parametrize("file_name", ["images.csv", "class_attributes.csv"])
def test_header_only_csv_is_named(small_synthetic, tmp_path, file_name):
    write_generic(small_synthetic, tmp_path)
    header = (tmp_path / file_name).read_text().splitlines()[0]
    (tmp_path / file_name).write_text(header + "\n")
    with pytest.raises(DataValidationError, match=rf"{file_name}: has a header \(\[.*\]\) but no rows"):
        load_generic(tmp_path)


def test_transposed_features_are_named_as_such(small_synthetic, tmp_path):
    write_generic(small_synthetic, tmp_path)
    features = np.load(tmp_path / "features.npy")
    np.save(tmp_path / "features.npy", features.T)
    with pytest.raises(
        DataValidationError,
        match=rf"features.npy: looks transposed: expected \(N, d\).* "
        rf"got \({features.shape[1]}, {features.shape[0]}\)",
    ):
        load_generic(tmp_path)


def test_duplicated_class_names_are_named_with_their_lines(small_synthetic, tmp_path):
    write_generic(small_synthetic, tmp_path)
    table = pd.read_csv(tmp_path / "class_attributes.csv")
    table.loc[4, "class"] = table.loc[1, "class"]
    table.to_csv(tmp_path / "class_attributes.csv", index=False)
    name = table.loc[1, "class"]
    with pytest.raises(
        DataValidationError,
        match=rf"class_attributes.csv: field 'class': expected unique class names; "
        rf"repeated .*'{name}': \[3, 6\]",
    ):
        load_generic(tmp_path)
