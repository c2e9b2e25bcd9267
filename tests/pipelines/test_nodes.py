"""The Kedro nodes called directly, as the spaceflights starters test them: small in-memory inputs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from fsigenz.configuration import CONFIGURABLE_BLOCKS, resolve_run_configuration
from fsigenz.pipelines.classifier_training.nodes import select_on_validation, train_final_model
from fsigenz.pipelines.evaluation.nodes import evaluate_on_test, score_test_split
from fsigenz.pipelines.prototype_generation.nodes import generate_prototype_table, prototypes_from_table
from tests.conftest import PROJECT_ROOT

TINY = {
    "fsigenz": {
        "l2_normalize": True,
        "scc": {"encoder_hidden": 32, "scorer_hidden": 32, "n_steps": 80, "eval_every": 20, "batch_size": 32},
    }
}


def configuration(method="fsigenz", command_line=None):
    """The run configuration of the synthetic namespace for ``method``, from conf/base and
    ``command_line``."""
    params = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("parameters_*.yml")):
        params.update(yaml.safe_load(path.read_text()) or {})
    blocks = {name: params[name] for name in CONFIGURABLE_BLOCKS}
    command_line = {**(command_line or {}), "model": {"method": method}}
    return resolve_run_configuration("synthetic", blocks, {}, command_line)


def run_nodes(dataset, config):
    table = generate_prototype_table(dataset, config)
    selection = select_on_validation(dataset, config)
    trained = train_final_model(dataset, table, selection, config)
    return table, selection, trained, evaluate_on_test(score_test_split(dataset, trained), trained, selection)


def test_fsigenz_nodes_beat_chance_and_repeat_bit_for_bit(small_synthetic):
    config = configuration(command_line=TINY)
    table, selection, trained, (metrics, history) = run_nodes(small_synthetic, config)
    chance = 100.0 / small_synthetic.unseen_classes.size
    assert metrics["czsl_top1"] > 1.5 * chance
    # the default classifier starts from its prototypes: it does not fall below them
    *_, (ncm_metrics, _) = run_nodes(small_synthetic, configuration("ncm", command_line=TINY))
    assert metrics["gzsl_h_cs"] >= ncm_metrics["gzsl_h_cs"] - 1.0
    assert selection["best_step"] in {p["step"] for p in selection["curves"][0]["points"]}
    assert selection["final_parameters"]["scc"]["n_steps"] == selection["best_step"]
    # the final model trained on the table's prototypes, in class order, with the settings configured
    np.testing.assert_array_equal(
        trained.estimator.prototypes_,
        prototypes_from_table(table, small_synthetic.class_names, small_synthetic.unseen_classes),
    )
    assert trained.estimator.scc_.encoder_hidden == 32 and trained.estimator.l2_normalize is True
    assert "validation_curve.gzsl_h" in history
    assert ("train_loss" in history) == (selection["best_step"] > 0)  # step 0: the untrained anchor won
    _, _, again, (metrics_again, _) = run_nodes(small_synthetic, config)
    timing = {k for k in metrics if k.startswith("seconds_")}
    assert {k: v for k, v in metrics_again.items() if k not in timing} == {
        k: v for k, v in metrics.items() if k not in timing
    }
    features = small_synthetic.features[small_synthetic.splits["test_unseen"]]
    np.testing.assert_array_equal(trained.scores(features), again.scores(features))


def test_ncm_is_selected_and_trained_with_its_own_prototype_settings(small_synthetic):
    config = configuration(
        "ncm", {"ncm": {"prototypes": {"n_prototypes": 5}}, "fsigenz": {"prototypes": {"n_prototypes": 20}}}
    )
    table, selection, trained, (metrics, _) = run_nodes(small_synthetic, config)
    assert table.groupby("class")["prototype"].nunique().eq(5).all()
    assert trained.estimator.prototypes_.shape[1] == 5 and metrics["n_synthetic_per_class"] == 5
    assert selection["final_parameters"]["prototypes"]["n_prototypes"] == 5


def test_a_prototype_table_made_with_other_settings_is_refused(small_synthetic):
    fsigenz_table = generate_prototype_table(small_synthetic, configuration(command_line=TINY))
    ncm = configuration("ncm", {"ncm": {"prototypes": {"n_prototypes": 5}}})
    selection = select_on_validation(small_synthetic, ncm)
    with pytest.raises(
        ValueError,
        match=r"prototype_table: made with the prototype settings .*n_prototypes\": 20"
        r".*rerun the prototypes pipeline",
    ):
        train_final_model(small_synthetic, fsigenz_table, selection, ncm)


def test_eszsl_is_selected_over_its_grid(small_synthetic):
    _, selection, trained, (metrics, _) = run_nodes(small_synthetic, configuration("eszsl"))
    assert set(selection["setting"]) == {"feature_regularization", "attribute_regularization"}
    assert len(selection["curves"]) == 10 * 7 and selection["best_step"] == 0  # its paper's grid
    assert metrics["method"] == "eszsl" and metrics["n_synthetic_per_class"] == 0
    assert trained.estimator.feature_regularization == selection["setting"]["feature_regularization"]
    # chosen by its paper's criterion, validation CZSL: no setting of the grid has a higher one
    best = max(curve["points"][0]["czsl_top1"] for curve in selection["curves"])
    chosen = next(c for c in selection["curves"] if c["setting"] == selection["setting"])
    assert chosen["points"][0]["czsl_top1"] == best
    assert selection["on_grid_edge"] == [
        key
        for key, values in sorted(configuration("eszsl").grid.items())
        if selection["setting"][key] in (min(values), max(values))
    ]


GENERATIVE_TINY = {
    "cadavae": {
        "feature_encoder_hidden": 32,
        "feature_decoder_hidden": 32,
        "attribute_encoder_hidden": 16,
        "attribute_decoder_hidden": 16,
        "latent_dim": 8,
        "epochs": 3,
        "n_latent_per_seen_class": 20,
        "n_latent_per_unseen_class": 40,
        "classifier_epochs": 2,
        "eval_every": 10,
    },
    "tfvaegan": {
        "generator_hidden_dim": 32,
        "critic_hidden_dim": 32,
        "encoder_hidden_dim": 32,
        "semantic_decoder_hidden_dim": 16,
        "generator_steps": 20,
        "n_synthetic_per_class": 40,
        "classifier_epochs": 2,
        "eval_every": 10,
    },
}


@pytest.mark.parametrize("method", sorted(GENERATIVE_TINY))
def test_the_vae_baselines_run_through_the_nodes(small_synthetic, method):
    config = configuration(method, {method: {**GENERATIVE_TINY[method], "device": "cpu"}})
    assert config.selection.metric == "gzsl_h"  # their papers' GZSL is uncalibrated
    _, selection, trained, (metrics, _) = run_nodes(small_synthetic, config)
    assert selection["final_parameters"]["classifier_steps"] == selection["best_step"] > 0
    assert metrics["method"] == method and metrics["n_synthetic_per_class"] == 40
    stages = {"cadavae": "vae_training", "tfvaegan": "generator_training"}
    assert f"seconds_{stages[method]}" in metrics
