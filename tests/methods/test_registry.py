"""The capability flags declared on the method registry are true of the estimators they build."""

import inspect

import pytest

from fsigenz.methods.registry import METHODS, build_method, method_parameters


@pytest.mark.parametrize("name", sorted(METHODS))
def test_declared_capabilities_match_the_estimator(name):
    spec = METHODS[name]
    estimator = build_method(name, {})
    scores_new_classes = "class_attributes" in inspect.signature(estimator.decision_function).parameters
    assert spec.accepts_new_classes == scores_new_classes
    if spec.uses_prototypes:  # tcn could take prototypes too, but it trains without them
        assert "prototypes" in inspect.signature(estimator.fit).parameters
    if spec.steps_parameter:  # iterative: it early-stops on a monitor
        assert "monitor" in inspect.signature(estimator.fit).parameters


def test_ncm_takes_only_the_inherited_keys_of_the_fsigenz_block():
    blocks = {
        "fsigenz": {"msas": {"weight": 2.0}, "scc": {"beta": 0.3}, "l2_normalize": True},
        "ncm": {"metric": "euclidean"},
    }
    assert method_parameters("ncm", blocks) == {
        "msas": {"weight": 2.0},
        "l2_normalize": True,
        "metric": "euclidean",
    }
    assert method_parameters("tcn", blocks)["scc"] == {"beta": 0.3}


def test_tfvaegan_settings_include_those_of_the_gan_it_extends():
    from fsigenz.methods.settings import SettingsError, validate_settings
    from fsigenz.methods.tfvaegan import TFVAEGANClassifier

    settings = validate_settings(TFVAEGANClassifier, {"gan_learning_rate": 0.003}, "tfvaegan")
    assert settings["gan_learning_rate"] == 0.003 and settings["feedback_weight"] == 1.0
    assert settings["classification_loss_weight"] == 0.0  # its own default, not f-CLSWGAN's 0.01
    with pytest.raises(
        SettingsError, match=r"^tfvaegan\.gan_steps: unknown setting; expected one of \[.*'generator_steps'"
    ):
        validate_settings(TFVAEGANClassifier, {"gan_steps": 3}, "tfvaegan")
