"""xlsa17 reading on the real att_splits.mat files, with simulated res101.mat stand-ins."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from fsigenz.data.dataset import DataValidationError
from fsigenz.data.xlsa17 import load_xlsa17

REAL_SIZES = {  # xlsa17 proposed split (Xian et al.): classes, seen, unseen, trainval, test_seen, test_unseen
    "cub": (200, 150, 50, 7057, 1764, 2967),
    "awa2": (50, 40, 10, 23527, 5882, 7913),
    "sun": (717, 645, 72, 10320, 2580, 1440),
}


@pytest.mark.parametrize("namespace", sorted(REAL_SIZES))
def test_real_split_files_load(real_xlsa17_copy, namespace):
    folder = real_xlsa17_copy(namespace)
    ds = load_xlsa17(folder)
    n_classes, n_seen, n_unseen, n_trainval, n_test_seen, n_test_unseen = REAL_SIZES[namespace]
    assert (ds.n_classes, ds.seen_classes.size, ds.unseen_classes.size) == (n_classes, n_seen, n_unseen)
    assert (ds.splits["trainval"].size, ds.splits["test_seen"].size, ds.splits["test_unseen"].size) == (
        n_trainval,
        n_test_seen,
        n_test_unseen,
    )
    assert ds.features.shape[1] == 32
    assert np.allclose(np.linalg.norm(ds.class_attributes, axis=0), 1.0, atol=1e-6) or namespace == "awa2"


def test_cub_without_val_loc_uses_valclasses_file(real_xlsa17_copy):
    folder = real_xlsa17_copy("cub")
    ds = load_xlsa17(folder)
    listed = [line.strip() for line in (folder / "valclasses1.txt").read_text().splitlines() if line.strip()]
    assert sorted(ds.class_names[c] for c in ds.val_classes) == sorted(listed)
    assert ds.metadata["validation_classes_from"] == "valclasses1.txt"


def test_awa2_original_att_negative_entries_are_zeroed(real_xlsa17_copy):
    ds = load_xlsa17(real_xlsa17_copy("awa2"), attributes="original_att")
    assert ds.class_attributes.min() >= 0.0


def test_missing_splits_file_names_path_and_content(tmp_path):
    with pytest.raises(DataValidationError) as error:
        load_xlsa17(tmp_path)
    assert str(tmp_path / "att_splits.mat") in str(error.value) and "att_splits.mat (class attributes" in str(
        error.value
    )


def test_missing_feature_file_is_named(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    (folder / "res101.mat").unlink()
    with pytest.raises(DataValidationError, match=r"res101.mat: file not found; expected image features"):
        load_xlsa17(folder)


def test_missing_key_is_named(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    content = {k: v for k, v in scipy.io.loadmat(folder / "att_splits.mat").items() if not k.startswith("__")}
    content.pop("test_unseen_loc")
    scipy.io.savemat(folder / "att_splits.mat", content)
    with pytest.raises(DataValidationError, match=r"att_splits.mat: missing key 'test_unseen_loc'"):
        load_xlsa17(folder)


def test_location_out_of_range_is_named(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    content = {k: v for k, v in scipy.io.loadmat(folder / "att_splits.mat").items() if not k.startswith("__")}
    content["trainval_loc"] = content["trainval_loc"].astype(np.int64)
    content["trainval_loc"][0, 0] = 10**6
    scipy.io.savemat(folder / "att_splits.mat", content)
    with pytest.raises(
        DataValidationError, match=r"field 'trainval_loc': expected 1-based rows in \[1, 37322\]"
    ):
        load_xlsa17(folder)


def test_attribute_dimension_mismatch_is_named(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    content = {k: v for k, v in scipy.io.loadmat(folder / "att_splits.mat").items() if not k.startswith("__")}
    content["att"] = content["att"][:, :-1]
    scipy.io.savemat(folder / "att_splits.mat", content)
    with pytest.raises(DataValidationError, match=r"field 'att': expected \(m, 50\)"):
        load_xlsa17(folder)


def test_nan_features_and_bad_labels_are_named(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    features = scipy.io.loadmat(folder / "res101.mat")
    broken = {"features": features["features"].copy(), "labels": features["labels"].copy()}
    broken["features"][0, 5] = np.nan
    scipy.io.savemat(folder / "res101.mat", broken)
    with pytest.raises(DataValidationError, match=r"field 'features': contains NaN or Inf"):
        load_xlsa17(folder)
    broken["features"][0, 5] = 0.0
    broken["labels"][0, 0] = 51
    scipy.io.savemat(folder / "res101.mat", broken)
    with pytest.raises(
        DataValidationError, match=r"res101.mat: field 'labels': expected 1-based class indices in \[1, 50\]"
    ):
        load_xlsa17(folder)


def test_corrupt_mat_file_is_named(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    (folder / "res101.mat").write_bytes(b"not a mat file")
    with pytest.raises(DataValidationError, match=r"res101.mat: not a readable MATLAB .mat file"):
        load_xlsa17(folder)


def test_test_unseen_image_of_seen_class_is_named(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    splits = scipy.io.loadmat(folder / "att_splits.mat")
    features = scipy.io.loadmat(folder / "res101.mat")
    first_unseen_row = int(splits["test_unseen_loc"][0, 0]) - 1
    seen_label = features["labels"][int(splits["trainval_loc"][0, 0]) - 1, 0]
    features["labels"][first_unseen_row, 0] = seen_label
    scipy.io.savemat(folder / "res101.mat", {"features": features["features"], "labels": features["labels"]})
    with pytest.raises(DataValidationError, match=r"field 'test_unseen_loc': holds images of seen classes"):
        load_xlsa17(folder)


def _splits_content(folder) -> dict:
    return {k: v for k, v in scipy.io.loadmat(folder / "att_splits.mat").items() if not k.startswith("__")}


def test_fractional_label_is_refused_not_truncated(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    features = scipy.io.loadmat(folder / "res101.mat")
    labels = features["labels"].astype(np.float64)
    labels[2, 0] = 3.5
    scipy.io.savemat(folder / "res101.mat", {"features": features["features"], "labels": labels})
    with pytest.raises(
        DataValidationError,
        match=r"res101.mat: field 'labels': expected 1-based class indices \(whole numbers\), "
        r"got 3.5 at entry 3",
    ):
        load_xlsa17(folder)


def test_transposed_features_are_named_as_such(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2", feature_dim=8)
    features = scipy.io.loadmat(folder / "res101.mat")
    scipy.io.savemat(
        folder / "res101.mat", {"features": features["features"].T, "labels": features["labels"]}
    )
    with pytest.raises(
        DataValidationError,
        match=r"res101.mat: field 'features': looks transposed: expected \(d, N\).* got \(37322, 8\)",
    ):
        load_xlsa17(folder)
    # the extraction .npz stores N x d: a d x N array there is transposed too
    np.savez(folder / "features.npz", features=features["features"], labels=features["labels"].ravel())
    with pytest.raises(
        DataValidationError,
        match=r"features.npz: field 'features': looks transposed: expected \(N, d\).* got \(8, 37322\)",
    ):
        load_xlsa17(folder, features_file="features.npz")


def test_duplicated_location_is_named(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    content = _splits_content(folder)
    content["test_seen_loc"] = content["test_seen_loc"].astype(np.int64)
    repeated = int(content["test_seen_loc"][0, 0])
    content["test_seen_loc"][4, 0] = repeated
    scipy.io.savemat(folder / "att_splits.mat", content)
    with pytest.raises(
        DataValidationError,
        match=rf"field 'test_seen_loc': expected each location once; "
        rf"1 repeated, e\.g\. \[{repeated}\] \(1-based",
    ):
        load_xlsa17(folder)


def test_overlapping_splits_name_the_1_based_locations(real_xlsa17_copy):
    folder = real_xlsa17_copy("awa2")
    content = _splits_content(folder)
    content["test_seen_loc"] = content["test_seen_loc"].astype(np.int64)
    shared = int(content["trainval_loc"][7, 0])  # as written in the file: 1-based
    content["test_seen_loc"][0, 0] = shared
    scipy.io.savemat(folder / "att_splits.mat", content)
    with pytest.raises(
        DataValidationError,
        match=rf"field 'test_seen_loc': expected no location of 'trainval_loc'; "
        rf"1 shared, e\.g\. \[{shared}\] \(1-based",
    ):
        load_xlsa17(folder)
