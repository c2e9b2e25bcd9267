"""conf/paper (kedro run --env paper): the generative baselines' published settings, merged over conf/base."""

from __future__ import annotations

import pytest
from kedro.config import OmegaConfigLoader

from fsigenz.configuration import CONFIGURABLE_BLOCKS, resolve_run_configuration
from fsigenz.methods.registry import build_method
from fsigenz.settings import CONFIG_LOADER_ARGS
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def paper_parameters() -> dict:
    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"}
    return OmegaConfigLoader(str(PROJECT_ROOT / "conf"), env="paper", **args)["parameters"]


def resolve(parameters: dict, namespace: str, method: str):
    blocks = {name: parameters.get(name) or {} for name in CONFIGURABLE_BLOCKS}
    return resolve_run_configuration(
        namespace, blocks, parameters.get(namespace), {"model": {"method": method}}
    )


@pytest.mark.parametrize("namespace", ["awa2", "cub", "sun"])
@pytest.mark.parametrize("method", ["fclswgan", "cadavae", "tfvaegan"])
def test_paper_settings_resolve_to_valid_estimators(paper_parameters, namespace, method):
    settings = resolve(paper_parameters, namespace, method).settings  # validated: no unknown key, no bad type
    build_method(method, settings)
    if method == "cadavae":
        assert settings["epochs"] == 100 and settings["learning_rate"] == 0.00015  # conf/base's awa2 10 too
        assert settings["feature_encoder_hidden"] == 1560
    else:
        assert settings["generator_hidden_dim"] == 4096 and settings["generator_steps"] >= 6000
    assert settings["patience"] is None
    assert paper_parameters[namespace]["source"]["type"] == "xlsa17"  # the base blocks of the namespace stay


def test_paper_env_uses_the_papers_per_dataset_learning_rate_and_n(paper_parameters):
    awa2 = resolve(paper_parameters, "awa2", "fclswgan").settings
    assert awa2["gan_learning_rate"] == 0.00001 and awa2["n_synthetic_per_class"] == 1800
    assert resolve(paper_parameters, "cub", "fclswgan").settings["gan_learning_rate"] == 0.0001
