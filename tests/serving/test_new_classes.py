"""Classes added at prediction time, the feature table, and the inference node (library level, fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fsigenz.data.dataset import DataValidationError
from fsigenz.data.synthetic import make_synthetic_benchmark
from fsigenz.methods.base import ZeroShotTask
from fsigenz.methods.eszsl import ESZSL
from fsigenz.methods.fsigenz import FSIGenZClassifier
from fsigenz.model import ZeroShotClassifier
from fsigenz.pipelines.inference.nodes import predict_classes
from fsigenz.serving import ImageBackbone, add_classes, feature_table, features_from_table

# an easy synthetic benchmark: the test is about the mechanism, not the method's accuracy
EASY = dict(
    n_seen_classes=20, n_unseen_classes=5, n_val_classes=4, feature_dim=64, images_per_class=40,
    class_separation=1.5, unexplained_variation=0.1, noise=0.5, seed=0,
)
TINY_SCC = dict(encoder_hidden=64, scorer_hidden=64, batch_size=32, n_steps=800, device="cpu")
GAMMA = 0.5
NO_BACKBONE = ImageBackbone(None, "feature rows only in these tests")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(single_torch_thread):
    """Every test of this module runs on one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="module")
def benchmark():
    """The benchmark, and its first unseen class, which the models below are trained without."""
    dataset = make_synthetic_benchmark(**EASY)
    return dataset, int(dataset.unseen_classes[0])


def train_without(dataset, removed: int, method_name: str, estimator) -> ZeroShotClassifier:
    """Fit ``estimator`` on trainval as if class ``removed`` did not exist at all (no attributes, no images)."""
    keep = np.setdiff1d(np.arange(dataset.n_classes), [removed])
    position = np.full(dataset.n_classes, -1)
    position[keep] = np.arange(keep.size)
    rows = dataset.splits["trainval"]
    task = ZeroShotTask(
        features=dataset.features[rows],
        labels=position[dataset.labels[rows]],
        class_attributes=dataset.class_attributes[:, keep],
        seen_classes=position[dataset.seen_classes],
        unseen_classes=position[np.setdiff1d(dataset.unseen_classes, [removed])],
    )
    estimator.fit(task)
    return ZeroShotClassifier(
        method_name=method_name,
        estimator=estimator,
        class_names=tuple(np.asarray(dataset.class_names)[keep]),
        seen_classes=task.seen_classes,
        unseen_classes=task.unseen_classes,
        calibration_gamma=GAMMA,
        metadata={
            "feature_dim": dataset.feature_dim,
            "attribute_dim": dataset.attribute_dim,
            "class_attributes": task.class_attributes,
        },
    )


@pytest.fixture(scope="module")
def eszsl_model(benchmark):
    dataset, removed = benchmark
    return train_without(dataset, removed, "eszsl", ESZSL(feature_regularization=1.0, attribute_regularization=1.0))


@pytest.fixture(scope="module")
def fsigenz_model(benchmark):
    dataset, removed = benchmark
    return train_without(dataset, removed, "fsigenz", FSIGenZClassifier(l2_normalize=True, scc=TINY_SCC))


def class_table(names, attributes: np.ndarray) -> pd.DataFrame:
    """``class,attribute_0,...`` with one row per name; ``attributes`` is (m, L)."""
    table = pd.DataFrame(attributes.T, columns=[f"attribute_{i}" for i in range(attributes.shape[0])])
    table.insert(0, "class", list(names))
    return table


def test_adding_a_class_by_attributes_changes_predictions_for_its_images(benchmark, eszsl_model):
    dataset, removed = benchmark
    test_rows = dataset.splits["test_unseen"]
    own = test_rows[dataset.labels[test_rows] == removed]
    others = test_rows[dataset.labels[test_rows] != removed]
    name = dataset.class_names[removed]
    before = eszsl_model.predict(dataset.features[own])

    extended = add_classes(eszsl_model, class_table([name], dataset.class_attributes[:, [removed]]))
    after = extended.predict(dataset.features[own])
    share = float(np.mean(after["predicted_class"] == name))
    assert name not in set(before["predicted_class"])
    assert share >= 0.8, share  # chance over the 25 classes: 0.04; nothing was retrained
    assert np.mean(after["predicted_class"] != before["predicted_class"]) == share  # only to the new class
    others_as_new = float(np.mean(extended.predict(dataset.features[others])["predicted_class"] == name))
    assert others_as_new <= 0.1, others_as_new  # the other classes' images mostly stay where they were
    assert eszsl_model.class_names == extended.class_names[:-1]  # the original model is untouched


def test_fsigenz_scores_new_columns_with_the_fitted_msas_threshold(benchmark, fsigenz_model):
    dataset, removed = benchmark
    features = dataset.features[dataset.splits["test_unseen"][:40]]
    new_attributes = dataset.class_attributes[:, [removed]]
    extended = fsigenz_model.with_new_classes(["added"], new_attributes)
    scores = extended.scores(features, calibrated=False)
    trained = fsigenz_model.scores(features, calibrated=False)

    assert scores.shape == (40, len(fsigenz_model.class_names) + 1)
    np.testing.assert_allclose(scores[:, :-1], trained, rtol=1e-5, atol=1e-5)  # trained classes unchanged
    estimator = fsigenz_model.estimator
    adjusted = estimator.msas_.transform(new_attributes)  # T_h fixed at fit, not refitted on the new column
    assert not np.allclose(adjusted, new_attributes)  # MSAS does change this column
    expected = estimator.scc_.decision_function(estimator.centering_.transform(features), adjusted)
    np.testing.assert_allclose(scores[:, -1:], expected, rtol=1e-5, atol=1e-5)


def test_calibrated_stacking_leaves_added_classes_alone(benchmark, fsigenz_model):
    dataset, removed = benchmark
    features = dataset.features[dataset.splits["test_seen"][:10]]
    extended = fsigenz_model.with_new_classes(["added"], dataset.class_attributes[:, [removed]])
    shift = extended.scores(features, calibrated=True) - extended.scores(features, calibrated=False)
    np.testing.assert_allclose(shift[:, extended.seen_classes], -GAMMA, atol=1e-5)
    np.testing.assert_allclose(shift[:, extended.unseen_classes], 0.0, atol=1e-6)
    assert extended.unseen_classes[-1] == len(extended.class_names) - 1


def test_classes_added_in_two_steps_equal_one_step(benchmark, eszsl_model):
    dataset, _ = benchmark
    attributes = dataset.class_attributes[:, :2] * 0.5
    features = dataset.features[:5]
    stepwise = eszsl_model.with_new_classes(["x"], attributes[:, :1]).with_new_classes(["y"], attributes[:, 1:])
    at_once = eszsl_model.with_new_classes(["x", "y"], attributes)
    assert stepwise.class_names == at_once.class_names
    np.testing.assert_allclose(stepwise.scores(features), at_once.scores(features), rtol=1e-6)


# ------------------------------------------------------------------------------- bad class input
@pytest.fixture
def write_classes(tmp_path, eszsl_model):
    m = eszsl_model.attribute_dim

    def write(rows: list[list], n_attributes: int = m):
        path = tmp_path / "new_classes.csv"
        pd.DataFrame(rows, columns=["class", *[f"attribute_{i}" for i in range(n_attributes)]]).to_csv(path, index=False)
        return path

    return write


def test_wrong_attribute_dimension_names_the_file_and_the_expected_dimension(write_classes, eszsl_model):
    path = write_classes([["zebra", *[0.1] * 31]], n_attributes=31)
    with pytest.raises(DataValidationError, match=r"new_classes\.csv: expected 32 attribute columns after 'class'.*got 31"):
        add_classes(eszsl_model, path)


def test_nan_attribute_names_the_file_row_class_and_column(write_classes, eszsl_model):
    values = [0.1] * 32
    broken = list(values)
    broken[4] = np.nan
    path = write_classes([["zebra", *values], ["okapi", *broken]])
    with pytest.raises(DataValidationError, match=r"new_classes\.csv: row 2 \(class 'okapi'\), column 'attribute_4': NaN"):
        add_classes(eszsl_model, path)


def test_duplicate_and_clashing_names_are_refused(write_classes, eszsl_model):
    values = [0.1] * 32
    with pytest.raises(DataValidationError, match=r"new_classes\.csv: field 'class': duplicated class name\(s\) \['zebra'\]"):
        add_classes(eszsl_model, write_classes([["zebra", *values], ["zebra", *values]]))
    trained = eszsl_model.class_names[3]
    with pytest.raises(DataValidationError, match=rf"already classes of the model: \['{trained}'\]"):
        add_classes(eszsl_model, write_classes([[trained, *values]]))


def test_missing_file_class_column_and_unsupported_method(tmp_path, eszsl_model):
    with pytest.raises(DataValidationError, match=r"absent\.csv: file not found"):
        add_classes(eszsl_model, tmp_path / "absent.csv")
    with pytest.raises(DataValidationError, match=r"my table: missing column 'class'"):
        add_classes(eszsl_model, pd.DataFrame({"name": ["a"]}), source="my table")

    class ClosedClassifier:
        def decision_function(self, features):
            return np.zeros((len(features), 2), dtype=np.float32)

    closed = ZeroShotClassifier("closed", ClosedClassifier(), ("a", "b"), np.array([0]), np.array([1]),
                                metadata={"attribute_dim": 2, "feature_dim": 3})
    with pytest.raises(DataValidationError, match=r"method 'closed' cannot score classes added after training"):
        add_classes(closed, class_table(["c"], np.ones((2, 1))))


def test_library_call_checks_shapes_too(eszsl_model):
    with pytest.raises(ValueError, match=r"attributes: expected \(32, 1\)"):
        eszsl_model.with_new_classes(["x"], np.ones((31, 1)))
    with pytest.raises(ValueError, match=r"attributes: NaN or infinite entries for class\(es\) \['x'\]"):
        eszsl_model.with_new_classes(["x"], np.full((32, 1), np.nan))


# ------------------------------------------------------------------------------- feature table
def test_feature_table_round_trip_and_vector_column():
    features = np.arange(12, dtype=np.float32).reshape(3, 4)
    table = feature_table(features)
    assert list(table.columns) == ["feature_0", "feature_1", "feature_2", "feature_3"]
    table.insert(0, "image_id", ["a", "b", "c"])  # other columns are ignored
    np.testing.assert_array_equal(features_from_table(table, 4), features)
    vectors = pd.DataFrame({"features": list(features)})
    np.testing.assert_array_equal(features_from_table(vectors, 4), features)


def test_feature_table_errors_name_the_column_and_row():
    table = feature_table(np.ones((2, 4)))
    with pytest.raises(DataValidationError, match=r"features_to_score: expected the model's 5 feature columns.*missing \['feature_4'\]"):
        features_from_table(table, 5, "features_to_score")
    table.loc[1, "feature_2"] = np.nan
    with pytest.raises(DataValidationError, match=r"row 1, column 'feature_2': NaN"):
        features_from_table(table, 4)
    with pytest.raises(DataValidationError, match=r"column 'features', row 0: expected a vector of the model's 4 features, got shape \(3,\)"):
        features_from_table(pd.DataFrame({"features": [[1.0, 2.0, 3.0]]}), 4)


# ------------------------------------------------------------------------------- inference node
def test_inference_node_adds_classes_from_csv_text(benchmark, eszsl_model):
    dataset, removed = benchmark
    test_rows = dataset.splits["test_unseen"]
    own = test_rows[dataset.labels[test_rows] == removed]
    table = feature_table(dataset.features[own])
    plain = predict_classes(eszsl_model, table, NO_BACKBONE, top_k=3, calibrated=True, new_classes="")
    pd.testing.assert_frame_equal(plain, eszsl_model.predict(dataset.features[own], top_k=3))
    assert list(plain.columns) == ["predicted_class", "score", "top_k_classes", "top_k_scores"]
    assert all(len(classes) == 3 for classes in plain["top_k_classes"])

    csv_text = class_table(["newcomer"], dataset.class_attributes[:, [removed]]).to_csv(index=False)
    extended = predict_classes(eszsl_model, table, NO_BACKBONE, top_k=3, calibrated=True, new_classes=csv_text)
    assert np.mean(extended["predicted_class"] == "newcomer") >= 0.8
    with pytest.raises(DataValidationError, match=r"params 'inference.new_classes': expected 32 attribute columns"):
        predict_classes(eszsl_model, table, NO_BACKBONE, top_k=3, calibrated=True, new_classes="class,a\nx,1\n")


def test_fsigenz_refresh_and_fine_tune_makes_the_added_class_predicted(benchmark, fsigenz_model):
    """The refresh option: prototypes generated for the added class from the stored seen class
    means, a brief warm-started SCC fine-tune (no training image needed). On this class it raises the
    share of its images predicted as it; docs/serving.md tabulates all five left-out classes."""
    dataset, removed = benchmark
    test_rows = dataset.splits["test_unseen"]
    own = test_rows[dataset.labels[test_rows] == removed]
    seen_rows = dataset.splits["test_seen"]
    name = dataset.class_names[removed]
    table = class_table([name], dataset.class_attributes[:, [removed]])

    plain = add_classes(fsigenz_model, table)
    refreshed = add_classes(fsigenz_model, table, fine_tune_steps=60)
    share_plain = float(np.mean(plain.predict(dataset.features[own])["predicted_class"] == name))
    share_refreshed = float(np.mean(refreshed.predict(dataset.features[own])["predicted_class"] == name))
    assert share_refreshed > share_plain, (share_plain, share_refreshed)
    assert refreshed.estimator.prototypes_.shape[0] == fsigenz_model.estimator.prototypes_.shape[0] + 1
    assert fsigenz_model.estimator.prototypes_.shape[0] == len(fsigenz_model.unseen_classes)  # original untouched
    # the seen classes keep most of their accuracy through the brief fine-tune
    seen_names = np.asarray(dataset.class_names, dtype=object)[dataset.labels[seen_rows]]
    seen_before = np.mean(fsigenz_model.predict(dataset.features[seen_rows])["predicted_class"] == seen_names)
    seen_after = np.mean(refreshed.predict(dataset.features[seen_rows])["predicted_class"] == seen_names)
    assert seen_after >= seen_before - 0.15, (seen_before, seen_after)


def test_refresh_is_refused_for_methods_without_it(benchmark, eszsl_model):
    dataset, removed = benchmark
    table = class_table(["x"], dataset.class_attributes[:, [removed]])
    with pytest.raises(ValueError, match="fine_tune_steps: method .* cannot be fine-tuned"):
        add_classes(eszsl_model, table, fine_tune_steps=10)
