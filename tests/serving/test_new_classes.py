"""Classes added at prediction time, the feature table, and the inference node (library level, fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fsigenz.data.dataset import DataValidationError, without_classes
from fsigenz.data.synthetic import make_synthetic_benchmark
from fsigenz.methods.eszsl import ESZSL
from fsigenz.methods.fsigenz import FSIGenZClassifier
from fsigenz.methods.prototype_classes import ADDED_CLASS_MARGIN
from fsigenz.model import ZeroShotClassifier
from fsigenz.pipelines.inference.nodes import predict_classes
from fsigenz.protocol import final_protocol
from fsigenz.serving import (
    ImageBackbone,
    add_classes,
    add_examples,
    classifier_of,
    feature_table,
    features_from_table,
)

# an easy synthetic benchmark: the test is about the mechanism, not the method's accuracy
EASY = dict(
    n_seen_classes=20,
    n_unseen_classes=5,
    n_val_classes=4,
    feature_dim=64,
    images_per_class=40,
    class_separation=1.5,
    unexplained_variation=0.1,
    noise=0.5,
    seed=0,
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
    """Fit ``estimator`` on trainval as if class ``removed`` did not exist (no attributes, no images)."""
    reduced = without_classes(dataset, [removed])
    task = final_protocol(reduced).task
    estimator.fit(task)
    return ZeroShotClassifier(
        method_name=method_name,
        estimator=estimator,
        class_names=reduced.class_names,
        seen_classes=task.seen_classes,
        unseen_classes=task.unseen_classes,
        calibration_gamma=GAMMA,
        metadata={
            "feature_dim": dataset.feature_dim,
            "attribute_dim": dataset.attribute_dim,
            "class_attributes": task.class_attributes,
        },
    )


def test_without_classes_removes_the_classes_everywhere(benchmark):
    dataset, removed = benchmark
    val_class = int(dataset.val_classes[0])
    reduced = without_classes(dataset, [removed, val_class])
    gone = {dataset.class_names[removed], dataset.class_names[val_class]}
    assert reduced.n_classes == dataset.n_classes - 2 and not gone & set(reduced.class_names)
    kept = [c for c in range(dataset.n_classes) if dataset.class_names[c] not in gone]
    np.testing.assert_array_equal(reduced.class_attributes, dataset.class_attributes[:, kept])
    for split, rows in dataset.splits.items():  # the other classes' rows, in order, in every split
        names = np.asarray(dataset.class_names)[dataset.labels[rows]]
        features = dataset.features[rows][~np.isin(names, list(gone))]
        np.testing.assert_array_equal(reduced.features[reduced.splits[split]], features)
    assert len(reduced.unseen_classes) == len(dataset.unseen_classes) - 1
    assert len(reduced.val_classes) == len(dataset.val_classes) - 1
    with pytest.raises(ValueError, match=r"classes: expected class indices in \[0, 24\], got \[25\]"):
        without_classes(dataset, [dataset.n_classes])


@pytest.fixture(scope="module")
def eszsl_model(benchmark):
    dataset, removed = benchmark
    return train_without(
        dataset, removed, "eszsl", ESZSL(feature_regularization=1.0, attribute_regularization=1.0)
    )


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
    extended = fsigenz_model.with_new_classes(["added"], new_attributes, scoring="attributes")
    scores = extended.scores(features, calibrated=False)
    trained = fsigenz_model.scores(features, calibrated=False)

    assert scores.shape == (40, len(fsigenz_model.class_names) + 1)
    np.testing.assert_allclose(scores[:, :-1], trained, rtol=1e-5, atol=1e-5)  # trained classes unchanged
    estimator = fsigenz_model.estimator
    adjusted = estimator.msas_.transform(new_attributes)  # T_h fixed at fit, not refitted on the new column
    assert not np.allclose(adjusted, new_attributes)  # MSAS does change this column
    # the estimator's own scoring of the raw column (MSAS with the fitted T_h, the class's anchor from
    # prototypes of the fitted generator) is what the model serves
    expected = estimator.decision_function(features, new_attributes)
    np.testing.assert_allclose(scores[:, -1:], expected, rtol=1e-5, atol=1e-5)
    refitted = type(estimator.msas_)(
        **{k: getattr(estimator.msas_, k) for k in ("enabled", "threshold", "threshold_mode", "weight")}
    )
    assert not np.allclose(
        refitted.fit(new_attributes).transform(new_attributes), adjusted
    )  # T_h not refitted


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
    stepwise = eszsl_model.with_new_classes(["x"], attributes[:, :1]).with_new_classes(
        ["y"], attributes[:, 1:]
    )
    at_once = eszsl_model.with_new_classes(["x", "y"], attributes)
    assert stepwise.class_names == at_once.class_names
    np.testing.assert_allclose(stepwise.scores(features), at_once.scores(features), rtol=1e-6)


# ------------------------------------------------------------------------------- bad class input
@pytest.fixture
def write_classes(tmp_path, eszsl_model):
    m = eszsl_model.attribute_dim

    def write(rows: list[list], n_attributes: int = m):
        path = tmp_path / "new_classes.csv"
        pd.DataFrame(rows, columns=["class", *[f"attribute_{i}" for i in range(n_attributes)]]).to_csv(
            path, index=False
        )
        return path

    return write


def test_wrong_attribute_dimension_names_the_file_and_the_expected_dimension(write_classes, eszsl_model):
    path = write_classes([["zebra", *[0.1] * 31]], n_attributes=31)
    with pytest.raises(
        DataValidationError, match=r"new_classes\.csv: expected 32 attribute columns after 'class'.*got 31"
    ):
        add_classes(eszsl_model, path)


def test_nan_attribute_names_the_file_row_class_and_column(write_classes, eszsl_model):
    values = [0.1] * 32
    broken = list(values)
    broken[4] = np.nan
    path = write_classes([["zebra", *values], ["okapi", *broken]])
    with pytest.raises(
        DataValidationError,
        match=r"new_classes\.csv: row 1 \(class 'okapi'\), column 'attribute_4': "
        r"expected a finite number, got nan",
    ):
        add_classes(eszsl_model, path)


def test_duplicate_and_clashing_names_are_refused(write_classes, eszsl_model):
    values = [0.1] * 32
    with pytest.raises(
        DataValidationError, match=r"new_classes\.csv: column 'class': duplicated class name\(s\) 'zebra'"
    ):
        add_classes(eszsl_model, write_classes([["zebra", *values], ["zebra", *values]]))
    trained = eszsl_model.class_names[3]
    with pytest.raises(DataValidationError, match=rf"already classes of the model: '{trained}'"):
        add_classes(eszsl_model, write_classes([[trained, *values]]))


def test_missing_file_class_column_and_unsupported_method(tmp_path, eszsl_model):
    with pytest.raises(DataValidationError, match=r"absent\.csv: file not found"):
        add_classes(eszsl_model, tmp_path / "absent.csv")
    with pytest.raises(DataValidationError, match=r"my table: missing column 'class'"):
        add_classes(eszsl_model, pd.DataFrame({"name": ["a"]}), source="my table")

    class ClosedClassifier:
        def decision_function(self, features):
            return np.zeros((len(features), 2), dtype=np.float32)

    closed = ZeroShotClassifier(
        "closed",
        ClosedClassifier(),
        ("a", "b"),
        np.array([0]),
        np.array([1]),
        metadata={"attribute_dim": 2, "feature_dim": 3},
    )
    with pytest.raises(
        DataValidationError, match=r"method 'closed' cannot score classes added after training"
    ):
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
    np.testing.assert_array_equal(
        features_from_table(table[table.columns[::-1]], 4), features
    )  # any column order
    vectors = pd.DataFrame({"features": list(features)})
    np.testing.assert_array_equal(features_from_table(vectors, 4), features)


def test_feature_table_accepts_exactly_the_feature_columns():
    table = feature_table(np.ones((2, 4)))
    with pytest.raises(
        DataValidationError,
        match=r"features_to_score: expected exactly the model's 5 feature columns "
        r"feature_0 … feature_4.*got 4 column\(s\).*missing 'feature_4'",
    ):
        features_from_table(table, 5, "features_to_score")
    with pytest.raises(DataValidationError, match=r"unexpected column\(s\) 'feature_3'"):  # too wide
        features_from_table(table, 3)
    with pytest.raises(DataValidationError, match=r"unexpected column\(s\) 'image_id'"):  # an extra column
        features_from_table(table.assign(image_id=["a", "b"]), 4)
    with pytest.raises(DataValidationError, match=r"unexpected column\(s\) 'features'"):  # both forms
        features_from_table(table.assign(features=[[1.0] * 4] * 2), 4)


def test_feature_table_errors_name_the_column_and_the_row_counted_from_0():
    table = feature_table(np.ones((3, 4)))
    table.loc[1, "feature_2"] = np.nan
    with pytest.raises(
        DataValidationError, match=r"row 1, column 'feature_2': expected a finite number, got nan"
    ):
        features_from_table(table, 4)
    table = feature_table(np.ones((3, 4))).astype({"feature_1": object})
    table.loc[2, "feature_1"] = "big"
    with pytest.raises(DataValidationError, match=r"column 'feature_1', row 2: expected a number, got 'big'"):
        features_from_table(table, 4)
    with pytest.raises(
        DataValidationError,
        match=r"column 'features', row 0: expected a vector of the model's 4 features, got shape \(3,\)",
    ):
        features_from_table(pd.DataFrame({"features": [[1.0, 2.0, 3.0]]}), 4)
    with pytest.raises(
        DataValidationError, match=r"column 'features', row 1, entry 2: expected a finite number"
    ):
        features_from_table(pd.DataFrame({"features": [[1.0] * 4, [1.0, 1.0, np.inf, 1.0]]}), 4)


def test_header_only_and_all_zero_class_tables_are_refused(eszsl_model):
    header = "class," + ",".join(f"a{i}" for i in range(32)) + "\n"
    with pytest.raises(
        DataValidationError, match=r"params 'inference.new_classes': no class rows after the header"
    ):
        predict_classes(eszsl_model, feature_table(np.ones((1, 64))), NO_BACKBONE, 3, True, header, "")
    zero = header + "okapi," + ",".join("0" for _ in range(32)) + "\n"
    with pytest.raises(DataValidationError, match=r"row 0 \(class 'okapi'\): all-zero attribute vector"):
        predict_classes(eszsl_model, feature_table(np.ones((1, 64))), NO_BACKBONE, 3, True, zero, "")


# ------------------------------------------------------------------------------- inference node
def test_inference_node_adds_classes_from_csv_text(benchmark, eszsl_model):
    dataset, removed = benchmark
    test_rows = dataset.splits["test_unseen"]
    own = test_rows[dataset.labels[test_rows] == removed]
    table = feature_table(dataset.features[own])
    plain = predict_classes(
        eszsl_model, table, NO_BACKBONE, top_k=3, calibrated=True, new_classes="", examples=""
    )
    pd.testing.assert_frame_equal(plain, eszsl_model.predict(dataset.features[own], top_k=3))
    assert list(plain.columns) == ["predicted_class", "score", "top_k_classes", "top_k_scores"]
    assert all(len(classes) == 3 for classes in plain["top_k_classes"])

    csv_text = class_table(["newcomer"], dataset.class_attributes[:, [removed]]).to_csv(index=False)
    extended = predict_classes(
        eszsl_model, table, NO_BACKBONE, top_k=3, calibrated=True, new_classes=csv_text, examples=""
    )
    assert np.mean(extended["predicted_class"] == "newcomer") >= 0.8
    with pytest.raises(
        DataValidationError, match=r"params 'inference.new_classes': expected 32 attribute columns"
    ):
        predict_classes(
            eszsl_model,
            table,
            NO_BACKBONE,
            top_k=3,
            calibrated=True,
            new_classes="class,a\nx,1\n",
            examples="",
        )


def own_and_other_rows(dataset, removed):
    test_rows = dataset.splits["test_unseen"]
    return test_rows[dataset.labels[test_rows] == removed], test_rows[dataset.labels[test_rows] != removed]


def test_fsigenz_scores_added_classes_through_its_anchor_less_a_margin(benchmark, fsigenz_model):
    """The anchored default scores an added class by its anchor — ``anchor.scale`` × the cosine to the
    nearest of its generated prototypes — less the margin δ. The trained classes' scores stay exactly as
    they were; the margin only moves images back from the added class to the trained ones."""
    dataset, removed = benchmark
    own, others = own_and_other_rows(dataset, removed)
    name = dataset.class_names[removed]
    attributes = dataset.class_attributes[:, [removed]]
    table = class_table([name], attributes)
    by_prototypes = add_classes(fsigenz_model, table)
    by_attributes = add_classes(fsigenz_model, table, scoring="attributes")
    assert by_prototypes.prototype_classes is not None and by_attributes.prototype_classes is None
    assert by_prototypes.prototype_classes.margin == ADDED_CLASS_MARGIN > 0

    features = dataset.features[np.concatenate([own, others])]
    scores = by_prototypes.scores(features)
    np.testing.assert_array_equal(scores[:, :-1], fsigenz_model.scores(features))
    estimator = fsigenz_model.estimator
    prototypes, _ = estimator.prototype_generator_.generate(estimator.msas_.transform(attributes))
    centred = estimator.centering_.transform(features)
    cosines = (centred / np.linalg.norm(centred, axis=1, keepdims=True)) @ (
        prototypes[0] / np.linalg.norm(prototypes[0], axis=1, keepdims=True)
    ).T
    expected = estimator.anchor_["scale"] * cosines.max(axis=1) - ADDED_CLASS_MARGIN
    np.testing.assert_allclose(scores[:, -1], expected, rtol=1e-5, atol=1e-5)

    def share(model, rows):
        return float(np.mean(model.predict(dataset.features[rows])["predicted_class"] == name))

    no_margin, wide = (add_classes(fsigenz_model, table, margin=m) for m in (0.0, 5.0))
    assert share(no_margin, own) >= 0.5, share(no_margin, own)  # chance over 25 classes: 0.04
    assert share(no_margin, others) <= 0.1, share(no_margin, others)
    assert share(no_margin, own) >= share(by_prototypes, own) > share(wide, own) == 0.0
    assert share(no_margin, others) >= share(by_prototypes, others) >= share(wide, others)
    assert fsigenz_model.prototype_classes is None and len(fsigenz_model.class_names) == 24  # untouched
    for bad in (float("nan"), "1", True):
        with pytest.raises(ValueError, match=r"margin: expected a finite number \(logits\)"):
            fsigenz_model.with_new_classes([name], attributes, margin=bad)
    with pytest.raises(ValueError, match=r"margin: applies to scoring='prototypes' only"):
        fsigenz_model.with_new_classes([name], attributes, scoring="attributes", margin=1.0)


def test_without_the_anchor_added_classes_are_mapped_onto_the_scc_scores_with_no_margin(benchmark):
    """``preset: paper`` has no anchor: the added class's cosine is mapped onto the trained unseen
    classes' SCC scores, and it is a candidate only where it is at least as close as the nearest seen
    class mean (elsewhere: the image's lowest trained score minus 1)."""
    dataset, removed = benchmark
    estimator = FSIGenZClassifier(l2_normalize=True, preset="paper", scc={**TINY_SCC, "n_steps": 100})
    model = train_without(dataset, removed, "fsigenz", estimator)
    name = dataset.class_names[removed]
    extended = model.with_new_classes([name], dataset.class_attributes[:, [removed]])
    assert extended.prototype_classes.margin == 0.0
    features = dataset.features[dataset.splits["test_unseen"]]
    scores, trained = extended.scores(features, calibrated=False), model.scores(features, calibrated=False)
    np.testing.assert_array_equal(scores[:, :-1], trained)
    centred = estimator.centering_.transform(features)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    means = estimator.prototype_generator_.class_means_
    nearest_seen = (centred @ (means / np.linalg.norm(means, axis=1, keepdims=True)).T).max(axis=1)
    prototypes = extended.prototype_classes.generated[len(model.class_names)]
    own = (centred @ (prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True)).T).max(axis=1)
    far = own < nearest_seen
    assert 0 < far.sum() < len(features)
    np.testing.assert_allclose(scores[far, -1], trained[far].min(axis=1) - 1.0, rtol=1e-6)
    assert np.all(scores[~far, -1] > trained[~far].min(axis=1) - 1.0)


def test_folding_in_examples_raises_a_class_accuracy_without_retraining(benchmark, fsigenz_model):
    """Few-shot: k labelled images of a class are averaged into one more reference of it. Held-out images
    of the class are recognised more often with 5 examples than with none, for an added class, a class
    known by its examples alone, and a trained unseen class."""
    dataset, removed = benchmark
    own, _ = own_and_other_rows(dataset, removed)
    shots, held_out = own[:5], own[5:]
    name = dataset.class_names[removed]
    added = add_classes(fsigenz_model, class_table([name], dataset.class_attributes[:, [removed]]))

    def share(model, rows, class_name):
        return float(np.mean(model.predict(dataset.features[rows])["predicted_class"] == class_name))

    with_shots = added.with_examples(name, dataset.features[shots])
    assert share(with_shots, held_out, name) > share(added, held_out, name)
    examples_only = fsigenz_model.with_examples("newcomer", dataset.features[shots])
    assert examples_only.class_names[-1] == "newcomer" and examples_only.unseen_classes[-1] == 24
    assert share(examples_only, held_out, "newcomer") >= 0.5
    # a trained unseen class: its SCC score stays where it is higher
    trained = int(np.setdiff1d(dataset.unseen_classes, [removed])[0])
    trained_rows = dataset.splits["test_unseen"][dataset.labels[dataset.splits["test_unseen"]] == trained]
    trained_name = dataset.class_names[trained]
    folded = fsigenz_model.with_examples(trained_name, dataset.features[trained_rows[:5]])
    column = fsigenz_model.class_names.index(trained_name)
    before, after = (
        fsigenz_model.scores(dataset.features[trained_rows]),
        folded.scores(dataset.features[trained_rows]),
    )
    assert np.all(after[:, column] >= before[:, column]) and len(folded.class_names) == 24
    # two batches of examples equal one batch of all of them (a running mean)
    stepwise = added.with_examples(name, dataset.features[shots[:2]]).with_examples(
        name, dataset.features[shots[2:]]
    )
    np.testing.assert_allclose(
        stepwise.scores(dataset.features[held_out]),
        with_shots.scores(dataset.features[held_out]),
        rtol=1e-5,
        atol=1e-5,
    )


def test_examples_as_a_request_parameter_and_their_errors(benchmark, fsigenz_model):
    dataset, removed = benchmark
    own, _ = own_and_other_rows(dataset, removed)
    examples = feature_table(dataset.features[own[:5]])
    examples.insert(0, "class", "newcomer")
    table = feature_table(dataset.features[own[5:]])
    answer = predict_classes(fsigenz_model, table, NO_BACKBONE, 3, True, "", examples.to_csv(index=False))
    expected = add_examples(fsigenz_model, examples).predict(dataset.features[own[5:]], top_k=3)
    pd.testing.assert_frame_equal(answer, expected)
    with pytest.raises(
        DataValidationError, match=r"params 'inference.examples': no example rows after the header"
    ):
        predict_classes(fsigenz_model, table, NO_BACKBONE, 3, True, "", "class,feature_0\n")
    with pytest.raises(
        DataValidationError,
        match=r"params 'inference.examples': expected exactly the model's 64 feature columns",
    ):
        predict_classes(fsigenz_model, table, NO_BACKBONE, 3, True, "", "class,feature_0\nx,1.0\n")
    with pytest.raises(
        DataValidationError,
        match=r"params 'inference.examples': column 'class', row 1: expected a class name",
    ):
        broken = examples.copy()
        broken.loc[1, "class"] = ""
        predict_classes(fsigenz_model, table, NO_BACKBONE, 3, True, "", broken.to_csv(index=False))
    with pytest.raises(
        ValueError, match=r"method 'ESZSL': folding in examples needs an FSIGenZ model with prototypes"
    ):
        ZeroShotClassifier(
            "ESZSL",
            object(),
            ("a",),
            np.array([0]),
            np.array([], dtype=int),
            metadata={"feature_dim": 64, "attribute_dim": 32},
        ).with_examples("a", np.ones((1, 64)))


def test_add_classes_takes_a_served_model_or_says_what_it_expects(benchmark, eszsl_model):
    dataset, removed = benchmark
    table = class_table(["x"], dataset.class_attributes[:, [removed]])

    class Served:  # what mlflow.pyfunc.load_model returns: unwrap_python_model() holds the classifier
        def unwrap_python_model(self):
            return type(
                "ServedClassifier", (), {"trained_model": eszsl_model, "image_backbone": NO_BACKBONE}
            )()

    assert classifier_of(Served()) is eszsl_model
    assert add_classes(Served(), table).class_names[-1] == "x"
    with pytest.raises(
        TypeError,
        match=r"model: expected a fsigenz ZeroShotClassifier .* or a served fsigenz model "
        r"loaded with mlflow.pyfunc.load_model, got dict",
    ):
        add_classes({}, table)
