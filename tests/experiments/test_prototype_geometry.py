import numpy as np
import pytest

from fsigenz.experiments.figures import prototype_tsne_figure
from fsigenz.experiments.prototype_geometry import (
    UnseenClassFeatures,
    centred_unseen_features,
    nearest_distances,
    prototype_geometry,
    random_span_points,
)


def test_nearest_distances_by_hand():
    points = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    centres = np.array([[0.0, 1.0], [6.0, 8.0]])
    np.testing.assert_allclose(nearest_distances(points, centres), [1.0, np.sqrt(18.0), np.sqrt(80.0)])


def test_random_span_points_lie_in_the_span_with_the_given_norm():
    means = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # span: the first two axes
    points = random_span_points(means, 50, 2.5, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 2.5)
    np.testing.assert_allclose(points[:, 2], 0.0)


def _two_group_classes(rng, noise=0.05):
    """Class 0 has groups at ±5 e1, class 1 at ±5 e2; 20 images per group, d = 6."""
    d, groups = 6, {0: [5 * np.eye(6)[0], -5 * np.eye(6)[0]], 1: [5 * np.eye(6)[1], -5 * np.eye(6)[1]]}
    features, labels = [], []
    for c, centres in groups.items():
        for centre in centres:
            features.append(centre + noise * rng.standard_normal((20, d)))
            labels += [c] * 20
    seen_means = 5 * np.eye(6)[2:]  # the seen classes span the other four axes
    return UnseenClassFeatures(np.concatenate(features), np.array(labels), seen_means), groups


def test_prototypes_on_the_real_groups_are_near_and_own_class():
    real, groups = _two_group_classes(np.random.default_rng(0))
    prototypes = {c: np.stack(centres) for c, centres in groups.items()}  # one prototype per real group
    per_class, summary, centres = prototype_geometry(real, prototypes, n_clusters=2, n_random_per_class=50)
    assert summary["prototype_distance"] < 0.05  # the k-means centres are the group means
    # random points of the seen span (norm 5, orthogonal to both groups): sqrt(5² + 5²) from each centre
    assert summary["random_span_distance"] == pytest.approx(np.sqrt(50), rel=0.02)
    assert summary["random_box_distance"] > 1.0
    assert summary["own_class_rate"] == 1.0 and summary["n_classes"] == 2
    assert summary["ratio_to_random_span"] == pytest.approx(
        summary["prototype_distance"] / summary["random_span_distance"]
    )
    assert list(per_class["n_centres"]) == [2, 2] and list(per_class["n_prototypes"]) == [2, 2]
    assert {c: len(v) for c, v in centres.items()} == {0: 2, 1: 2}


def test_prototypes_of_the_wrong_class_are_counted():
    real, groups = _two_group_classes(np.random.default_rng(1))
    swapped = {0: np.stack(groups[1]), 1: np.stack(groups[0])}
    _, summary, _ = prototype_geometry(real, swapped, n_clusters=2, n_random_per_class=10)
    assert summary["own_class_rate"] == 0.0
    assert summary["prototype_distance"] == pytest.approx(np.sqrt(50), rel=0.02)


def test_no_common_class_is_an_error():
    real, groups = _two_group_classes(np.random.default_rng(2))
    with pytest.raises(ValueError, match="no unseen class has both"):
        prototype_geometry(real, {7: np.stack(groups[0])})


def test_real_features_are_centred_on_trainval(small_synthetic):
    real = centred_unseen_features(small_synthetic)
    trainval = small_synthetic.splits["trainval"]
    expected = small_synthetic.features[small_synthetic.splits["test_unseen"]] - small_synthetic.features[
        trainval
    ].mean(0)
    np.testing.assert_allclose(real.features, expected, atol=1e-4)
    assert real.seen_class_means.shape == (small_synthetic.seen_classes.size, small_synthetic.feature_dim)
    normalised = centred_unseen_features(small_synthetic, l2_normalize=True)
    np.testing.assert_allclose(np.linalg.norm(normalised.features, axis=1), 1.0, rtol=1e-5)


def test_pipeline_node_writes_figure_report_and_metrics(small_synthetic, tmp_path):
    from fsigenz.configuration import resolve_run_configuration
    from fsigenz.pipelines.prototype_generation.nodes import generate_prototype_table
    from fsigenz.pipelines.prototype_visualisation.nodes import visualise_prototypes

    config = resolve_run_configuration(
        "synthetic", {"model": {"method": "fsigenz"}, "fsigenz": {"prototypes": {"n_prototypes": 4}}}
    )
    table = generate_prototype_table(small_synthetic, config)
    options = {
        "n_clusters": 3,
        "n_random_per_class": 20,
        "max_classes": 3,
        "max_features_per_class": 15,
        "perplexity": 10,
        "tsne_iterations": 250,
    }
    figure, report, metrics = visualise_prototypes(small_synthetic, table, config, options)
    figure.savefig(tmp_path / "tsne.png")
    assert (tmp_path / "tsne.png").stat().st_size > 10_000
    assert len(report["per_class"]) == small_synthetic.unseen_classes.size  # numbers over every unseen class
    assert {"prototype_distance", "random_span_distance", "random_box_distance", "own_class_rate"} <= set(
        report["summary"]
    )
    assert (
        metrics["prototype_geometry.prototype_distance"]["value"] == report["summary"]["prototype_distance"]
    )
    assert (
        report["per_class"][0]["class"] == small_synthetic.class_names[report["per_class"][0]["class_index"]]
    )


def test_tsne_figure_checks_its_inputs():
    with pytest.raises(ValueError, match="one kind and one class label per row"):
        prototype_tsne_figure(np.zeros((3, 2)), np.array(["feature"] * 2), np.zeros(3), {})
