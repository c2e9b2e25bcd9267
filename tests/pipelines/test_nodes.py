"""The Kedro nodes called directly, as the spaceflights starters test them: small in-memory inputs."""

from __future__ import annotations


import numpy as np
import pytest
import yaml

from fsigenz.pipelines.classifier_training.nodes import select_on_validation, train_final_model
from fsigenz.pipelines.configuration import METHOD_BLOCKS, resolve_configuration
from fsigenz.pipelines.evaluation.nodes import evaluate_on_test, score_test_split
from fsigenz.pipelines.prototype_generation.nodes import generate_prototype_table, prototypes_from_table
from tests.conftest import PROJECT_ROOT

TINY = {"fsigenz": {"l2_normalize": True, "scc": {"encoder_hidden": 32, "scorer_hidden": 32, "n_steps": 80, "eval_every": 20, "batch_size": 32}}}


def base_parameters() -> dict:
    params = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("parameters_*.yml")):
        params.update(yaml.safe_load(path.read_text()) or {})
    return params


def run_nodes(dataset, overrides=TINY, method="fsigenz"):
    params = base_parameters()
    model = {**params["model"], "method": method}
    blocks = {name: params[name] for name in METHOD_BLOCKS}
    table = generate_prototype_table(dataset, model, overrides, params["fsigenz"])
    selection = select_on_validation(dataset, model, overrides, **blocks)
    trained = train_final_model(dataset, table, selection)
    return table, selection, trained, evaluate_on_test(score_test_split(dataset, trained), trained, selection)


def test_fsigenz_nodes_beat_chance_and_repeat_bit_for_bit(small_synthetic):
    table, selection, trained, (metrics, history) = run_nodes(small_synthetic)
    chance = 100.0 / small_synthetic.unseen_classes.size
    assert metrics["czsl_top1"] > 2 * chance
    assert selection["best_step"] in {p["step"] for p in selection["curves"][0]["points"]}
    assert selection["final_parameters"]["scc"]["n_steps"] == selection["best_step"]
    # the final model trained on the table's prototypes, in class order
    np.testing.assert_array_equal(
        trained.estimator.prototypes_,
        prototypes_from_table(table, small_synthetic.class_names, small_synthetic.unseen_classes),
    )
    assert "validation_curve.gzsl_h" in history and "train_loss" in history
    _, _, again, (metrics_again, _) = run_nodes(small_synthetic)
    timing = {k for k in metrics if k.startswith("seconds_")}
    assert {k: v for k, v in metrics_again.items() if k not in timing} == {k: v for k, v in metrics.items() if k not in timing}
    features = small_synthetic.features[small_synthetic.splits["test_unseen"]]
    np.testing.assert_array_equal(trained.scores(features), again.scores(features))


def test_eszsl_is_selected_over_its_grid(small_synthetic):
    _, selection, trained, (metrics, _) = run_nodes(small_synthetic, overrides={}, method="eszsl")
    assert set(selection["setting"]) == {"feature_regularization", "attribute_regularization"}
    assert len(selection["curves"]) == 30 and selection["best_step"] == 0
    assert metrics["method"] == "eszsl" and metrics["n_synthetic_per_class"] == 0


def test_namespace_overrides_merge_key_by_key():
    params = base_parameters()
    config = resolve_configuration(params["model"], {"fsigenz": {"scc": {"beta": 0.5}}}, {n: params[n] for n in METHOD_BLOCKS})
    assert config.method_parameters["scc"]["beta"] == 0.5
    assert config.method_parameters["scc"]["encoder_hidden"] == 1024  # untouched sibling keys stay
    tcn = resolve_configuration({**params["model"], "method": "tcn"}, {}, {n: params[n] for n in METHOD_BLOCKS})
    assert tcn.method_parameters["prototypes"]["n_prototypes"] == 0 and tcn.method_parameters["scc"]["beta"] == 0.2


def test_unknown_method_is_named():
    params = base_parameters()
    with pytest.raises(ValueError, match="field 'method': expected one of"):
        resolve_configuration({**params["model"], "method": "gan"}, {}, {n: params[n] for n in METHOD_BLOCKS})
