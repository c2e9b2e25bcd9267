import dataclasses

import numpy as np
import optuna
import pytest
import yaml

from fsigenz.configuration import resolve_run_configuration
from fsigenz.experiments.tuning import (
    apply_setting,
    parse_search_space,
    suggest_setting,
    tuned_parameters_block,
    validation_score,
    write_tuned_parameters,
)
from tests.kedro_project import make_project

# a small synthetic source and ESZSL: a trial takes a fraction of a second
TINY_SOURCE = {
    "n_seen_classes": 12,
    "n_unseen_classes": 4,
    "n_val_classes": 4,
    "attribute_dim": 12,
    "feature_dim": 16,
    "images_per_class": 20,
}


def test_search_space_is_validated_and_sampled():
    dimensions = parse_search_space(
        {
            "scc.beta": {"type": "float", "low": 0.05, "high": 1.0, "log": True},
            "prototypes.n_prototypes": {"type": "int", "low": 5, "high": 50},
            "metric": {"type": "categorical", "choices": ["cosine", "euclidean"]},
        }
    )
    trial = optuna.trial.FixedTrial({"scc.beta": 0.3, "prototypes.n_prototypes": 7, "metric": "euclidean"})
    setting = suggest_setting(trial, dimensions)
    assert setting == {"scc.beta": 0.3, "prototypes.n_prototypes": 7, "metric": "euclidean"}
    assert apply_setting({"scc": {"beta": 0.2, "n_steps": 10}}, setting) == {
        "scc": {"beta": 0.3, "n_steps": 10},
        "prototypes": {"n_prototypes": 7},
        "metric": "euclidean",
    }


@pytest.mark.parametrize(
    "space, message",
    [
        ({"a": {"type": "float", "low": 1.0, "high": 1.0}}, "low < high"),
        ({"a": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "log scale needs low > 0"),
        ({"a": {"type": "choice"}}, "type one of"),
        ({"a": {"type": "categorical", "choices": []}}, "non-empty 'choices'"),
        ({}, "empty"),
    ],
)
def test_bad_search_space_is_named(space, message):
    with pytest.raises(ValueError, match="tuning.search_spaces.x") as error:
        parse_search_space(space, "tuning.search_spaces.x")
    assert message in str(error.value)


def test_tuned_file_keeps_earlier_blocks(tmp_path):
    path = tmp_path / "conf/local/parameters_tuned.yml"
    write_tuned_parameters(path, tuned_parameters_block("awa2", "eszsl", {"feature_regularization": 10.0}))
    content = write_tuned_parameters(path, tuned_parameters_block("synthetic", "fsigenz", {"scc.beta": 0.5}))
    assert content == {
        "awa2": {"eszsl": {"feature_regularization": 10.0}},
        "synthetic": {"fsigenz": {"scc": {"beta": 0.5}}},
    }
    assert yaml.safe_load(path.read_text()) == content and path.read_text().startswith(
        "# Written by the Optuna"
    )


def test_validation_score_never_reads_the_test_split(small_synthetic):
    rng = np.random.default_rng(0)
    features = small_synthetic.features.copy()
    for split in ("test_seen", "test_unseen"):
        rows = small_synthetic.splits[split]
        features[rows] = rng.normal(size=(len(rows), features.shape[1])) * 100
    scrambled = dataclasses.replace(small_synthetic, features=features)
    config = resolve_run_configuration("synthetic", {"model": {"method": "eszsl"}})
    first = validation_score(small_synthetic, config, {"feature_regularization": 3.0})
    second = validation_score(scrambled, config, {"feature_regularization": 3.0})
    assert first.validation_metrics == second.validation_metrics
    assert first.validation_metrics != validation_score(small_synthetic, config).validation_metrics


def test_a_drawn_value_that_is_no_valid_setting_is_refused(small_synthetic):
    config = resolve_run_configuration("synthetic", {"model": {"method": "eszsl"}})
    with pytest.raises(ValueError, match=r"eszsl\.feature_regularisation: unknown setting"):
        validation_score(small_synthetic, config, {"feature_regularisation": 3.0})


@pytest.mark.slow
def test_two_workers_share_a_study_and_the_next_run_trains_with_the_best(tmp_path):
    from kedro.config import OmegaConfigLoader

    from fsigenz.configuration import CONFIGURABLE_BLOCKS
    from fsigenz.data.sources import load_source
    from fsigenz.pipelines.classifier_training.nodes import select_on_validation, train_final_model
    from fsigenz.pipelines.prototype_generation.nodes import generate_prototype_table
    from fsigenz.pipelines.studies.tuning import tune
    from fsigenz.settings import CONFIG_LOADER_ARGS

    project = make_project(tmp_path / "project")
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    runtime = {"synthetic": {"source": TINY_SOURCE}}
    # ncm: the method whose own prototype settings the final model once ignored
    block = tune(project, "synthetic", "ncm", n_trials=2, workers=2, storage=storage, runtime_params=runtime)

    study = optuna.load_study(study_name="synthetic-ncm", storage=storage)
    assert len(study.trials) == 2 and all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert {"best_step", "validation_metrics"} <= set(study.best_trial.user_attrs)
    best = study.best_trial.params
    assert block == {"synthetic": {"ncm": apply_setting({}, best)}}

    # the next run (conf/local over conf/base, the model chosen on the command line) trains with the best
    loader = OmegaConfigLoader(
        conf_source=str(project / "conf"),
        runtime_params={"model": {"method": "ncm"}, **runtime},
        **CONFIG_LOADER_ARGS,
    )
    parameters = loader["parameters"]
    per_dataset = yaml.safe_load((project / "conf/base/parameters_datasets.yml").read_text())["synthetic"]
    assert parameters["synthetic"]["fsigenz"] == per_dataset["fsigenz"]  # the rest of synthetic stays
    config = resolve_run_configuration(
        "synthetic",
        {name: parameters[name] for name in CONFIGURABLE_BLOCKS},
        parameters["synthetic"],
        parameters["command_line"],
    )
    dataset = load_source(parameters["synthetic"]["source"])
    table = generate_prototype_table(dataset, config)
    trained = train_final_model(dataset, table, select_on_validation(dataset, config), config)
    assert trained.method_name == "ncm"
    assert trained.estimator.prototypes_.shape[1] == best["prototypes.n_prototypes"]
    assert (trained.estimator.metric, trained.estimator.aggregate) == (best["metric"], best["aggregate"])
    assert trained.estimator.msas_.threshold == pytest.approx(best["msas.threshold"])


def test_trials_report_the_validation_curve_and_can_be_pruned(small_synthetic):
    from fsigenz.experiments.tuning import make_objective

    tiny = {
        "scc": {"encoder_hidden": 16, "scorer_hidden": 16, "n_steps": 20, "eval_every": 10, "device": "cpu"}
    }
    config = resolve_run_configuration("synthetic", {"model": {"method": "fsigenz"}, "fsigenz": tiny})
    dimensions = parse_search_space({"scc.beta": {"type": "float", "low": 0.1, "high": 1.0}})
    objective = make_objective(small_synthetic, config, dimensions)
    kept = optuna.create_study(direction="maximize")
    kept.optimize(objective, n_trials=1)
    # one report per validation evaluation, the anchored classifier's untrained step 0 included
    assert sorted(kept.trials[0].intermediate_values) == [0, 10, 20]
    pruned = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=1000.0))
    pruned.optimize(objective, n_trials=1)
    assert pruned.trials[0].state == optuna.trial.TrialState.PRUNED


def test_each_trial_reports_its_training_under_its_own_stage_name(small_synthetic):
    from fsigenz.experiments.tuning import make_objective
    from fsigenz.progress import observed_by
    from tests.test_progress import RecordingObserver

    tiny = {
        "scc": {"encoder_hidden": 16, "scorer_hidden": 16, "n_steps": 10, "eval_every": 5, "device": "cpu"}
    }
    config = resolve_run_configuration("synthetic", {"model": {"method": "fsigenz"}, "fsigenz": tiny})
    dimensions = parse_search_space({"scc.beta": {"type": "float", "low": 0.1, "high": 1.0}})
    recorder = RecordingObserver()
    with observed_by(recorder):
        optuna.create_study(direction="maximize").optimize(
            make_objective(small_synthetic, config, dimensions), n_trials=2
        )
    assert recorder.stages() == ["trial_0.scc", "trial_1.scc"]
    assert [event[1:] for event in recorder.of("end")] == [("trial_0.scc", 10), ("trial_1.scc", 10)]
