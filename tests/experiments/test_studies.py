import pytest
import yaml

from fsigenz.experiments.studies import format_value, kedro_params, select_settings, study_settings
from tests.conftest import PROJECT_ROOT


def test_named_settings_and_sweeps_in_order():
    settings = study_settings(
        "s",
        {
            "settings": {"full": {}, "no_dpsr": {"fsigenz.dpsr.enabled": False}},
            "sweeps": {"fsigenz.scc.beta": [0.1, 0.5]},
        },
    )
    assert [s.name for s in settings] == ["full", "no_dpsr", "fsigenz.scc.beta=0.1", "fsigenz.scc.beta=0.5"]
    assert settings[1].overrides == {"fsigenz.dpsr.enabled": False} and settings[1].swept_parameter is None
    assert (settings[3].swept_parameter, settings[3].value, settings[3].overrides) == (
        "fsigenz.scc.beta",
        0.5,
        {"fsigenz.scc.beta": 0.5},
    )


def test_configured_studies_are_valid_and_cover_the_paper():
    studies = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_experiments.yml").read_text())["studies"]
    ablation = {s.name: s.overrides for s in study_settings("ablation", studies["ablation"])}
    table_3 = {
        "full": {},
        "without_msas": {"fsigenz.msas.enabled": False},
        "without_dpsr": {"fsigenz.dpsr.enabled": False},
        "without_both": {"fsigenz.msas.enabled": False, "fsigenz.dpsr.enabled": False},
    }
    assert table_3.items() <= ablation.items()
    # the default classifier beside the paper's and beside its prototypes alone
    assert ablation["paper"] == {"fsigenz.preset": "paper"} and ablation["ncm_same_prototypes"] == {
        "model.method": "ncm"
    }
    swept = {s.swept_parameter for s in study_settings("sensitivity", studies["sensitivity"])}
    assert swept == {"fsigenz.prototypes.n_prototypes", "fsigenz.scc.beta", "fsigenz.msas.threshold"}
    n_prototypes = [
        s.value
        for s in study_settings("sensitivity", studies["sensitivity"])
        if s.swept_parameter == "fsigenz.prototypes.n_prototypes"
    ]
    assert min(n_prototypes) == 5 and max(n_prototypes) == 50
    methods = {s.overrides["model.method"] for s in study_settings("baselines", studies["baselines"])}
    assert methods == {"fsigenz", "tcn", "ncm", "eszsl", "fclswgan", "cadavae", "tfvaegan"}


def test_a_settings_values_reach_every_namespace_as_global_parameters(tmp_path):
    from fsigenz.experiments.studies import StudySetting
    from fsigenz.pipelines.studies.runner import setting_configurations

    setting = StudySetting(
        "n5", {"fsigenz.prototypes.n_prototypes": 5, "fsigenz.scc.n_steps": 60, "synthetic.source.seed": 3}
    )
    params = kedro_params(setting.overrides)
    assert params.split(",") == [
        "fsigenz.prototypes.n_prototypes=5",
        "fsigenz.scc.n_steps=60",
        "synthetic.source.seed=3",
    ]
    assert kedro_params({}) == ""
    # what the runs will resolve: the value under study beats synthetic's own n_steps default
    configurations = setting_configurations(project_parameters(), setting, ["synthetic", "cub"])
    assert {ns: c.settings["scc"]["n_steps"] for ns, c in configurations.items()} == {
        "synthetic": 60,
        "cub": 60,
    }
    assert configurations["synthetic"].n_prototypes == 5


def test_a_setting_that_is_no_valid_configuration_fails_before_any_run():
    from fsigenz.experiments.studies import StudySetting
    from fsigenz.methods.settings import SettingsError
    from fsigenz.pipelines.studies.runner import setting_configurations

    with pytest.raises(SettingsError, match=r"fsigenz\.scc\.betaa: unknown setting"):
        setting_configurations(
            project_parameters(), StudySetting("typo", {"fsigenz.scc.betaa": 0.3}), ["synthetic"]
        )


def project_parameters() -> dict:
    import yaml

    from fsigenz.methods.registry import deep_merge
    from tests.conftest import PROJECT_ROOT

    params: dict = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("parameters_*.yml")):
        params = deep_merge(params, yaml.safe_load(path.read_text()) or {})
    return params


def test_values_survive_kedro_params_parsing():
    from omegaconf import OmegaConf

    values = {"a": False, "b": None, "c": 0.05, "d": 20, "e": "cosine"}
    parsed = OmegaConf.to_container(
        OmegaConf.from_dotlist([f"{k}={format_value(v)}" for k, v in values.items()])
    )
    assert parsed == values


@pytest.mark.parametrize(
    "study, message",
    [
        ({"settings": {"a": {}}, "sweep": {}}, "unknown key(s) ['sweep']"),
        ({"sweeps": {"fsigenz.scc.beta": []}}, "expected a non-empty list"),
        ({"settings": {"a": 3}}, "settings.a: expected a mapping"),
        ({}, "no settings"),
        ({"settings": {"fsigenz.scc.beta=0.1": {}}, "sweeps": {"fsigenz.scc.beta": [0.1]}}, "must be unique"),
    ],
)
def test_bad_study_is_named(study, message):
    with pytest.raises(ValueError, match="experiments.studies.s") as error:
        study_settings("s", study)
    assert message in str(error.value)


def test_only_selects_and_rejects_unknown_settings():
    settings = study_settings("s", {"settings": {"a": {}, "b": {}}})
    assert [s.name for s in select_settings(settings, ["b"])] == ["b"]
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['c'\]"):
        select_settings(settings, ["c"])
    with pytest.raises(ValueError, match="cannot pass through"):
        format_value("a,b")


def test_seeds_cross_every_setting_and_set_every_seed_parameter():
    settings = study_settings(
        "s",
        {
            "settings": {"fsigenz": {"model.method": "fsigenz"}, "eszsl": {"model.method": "eszsl"}},
            "seeds": [0, 7],
            "seed_parameters": ["fsigenz.scc.seed", "synthetic.source.seed"],
        },
    )
    assert [s.name for s in settings] == ["fsigenz/seed=0", "fsigenz/seed=7", "eszsl/seed=0", "eszsl/seed=7"]
    assert settings[1].overrides == {
        "model.method": "fsigenz",
        "fsigenz.scc.seed": 7,
        "synthetic.source.seed": 7,
    }
    assert (settings[1].seed, settings[1].base) == (7, "fsigenz")
    # --only with a base name runs all its seeds
    assert [s.name for s in select_settings(settings, ["eszsl"])] == ["eszsl/seed=0", "eszsl/seed=7"]
    assert [s.name for s in select_settings(settings, ["eszsl/seed=7"])] == ["eszsl/seed=7"]


def test_configured_seeds_study_covers_every_baseline_and_the_data_seed():
    studies = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_experiments.yml").read_text())["studies"]
    settings = study_settings("seeds", studies["seeds"])
    bases = {s.base for s in settings}
    assert (
        bases
        == {s.overrides["model.method"] for s in settings}
        >= {"fsigenz", "tcn", "ncm", "eszsl", "fclswgan"}
    )
    assert len({s.seed for s in settings}) >= 3 and len(settings) == len(bases) * len(
        {s.seed for s in settings}
    )
    assert all(
        s.overrides["synthetic.source.seed"] == s.seed == s.overrides["fsigenz.scc.seed"] for s in settings
    )


@pytest.mark.parametrize(
    "seeds, parameters, message",
    [
        ([0, 0], ["fsigenz.scc.seed"], "each seed once"),
        ([0, -1], ["fsigenz.scc.seed"], "non-empty list of integers >= 0"),
        ("0", ["fsigenz.scc.seed"], "non-empty list of integers >= 0"),
        ([0, 1], None, "seed_parameters: expected a non-empty list"),
        ([0, 1], ["model.method"], "sets ['model.method'], which seed_parameters sets per seed"),
    ],
)
def test_bad_seeds_are_named(seeds, parameters, message):
    study = {"settings": {"a": {"model.method": "eszsl"}}, "seeds": seeds, "seed_parameters": parameters}
    with pytest.raises(ValueError, match="experiments.studies.s") as error:
        study_settings("s", study)
    assert message in str(error.value)
