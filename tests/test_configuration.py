"""One run configuration per namespace: precedence of the layers, validation, and the typed object."""

from __future__ import annotations

import shutil

import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.framework.cli.utils import _split_params

from fsigenz.configuration import CONFIGURABLE_BLOCKS, RunConfiguration, resolve_run_configuration
from fsigenz.methods.settings import SettingsError
from fsigenz.pipelines.configuration import RunConfigurationDataset
from fsigenz.settings import CONFIG_LOADER_ARGS
from tests.conftest import PROJECT_ROOT

GLOBAL = {"model": {"method": "fsigenz"}, "fsigenz": {"scc": {"n_steps": 3000, "beta": 0.2}}}
PER_DATASET = {"fsigenz": {"scc": {"n_steps": 1500}}}


def resolve(command_line=None, namespace="synthetic", dataset=PER_DATASET, global_blocks=GLOBAL):
    return resolve_run_configuration(namespace, global_blocks, dataset, command_line or {})


def test_layers_in_order_of_precedence():
    assert resolve().settings["scc"]["n_steps"] == 1500  # per-dataset default beats the global block
    assert resolve(namespace="cub", dataset={}).settings["scc"]["n_steps"] == 3000
    assert resolve().settings["scc"]["negative_slope"] == 0.2  # library default where nothing is set
    # a global command-line value beats the per-dataset default, in every namespace
    command_line = {"fsigenz": {"scc": {"n_steps": 60}}}
    assert resolve(command_line).settings["scc"]["n_steps"] == 60
    assert resolve(command_line, namespace="cub", dataset={}).settings["scc"]["n_steps"] == 60
    # a per-namespace command-line value beats the global one, in its namespace only
    command_line = {"fsigenz": {"scc": {"n_steps": 60}}, "synthetic": {"fsigenz": {"scc": {"n_steps": 30}}}}
    assert resolve(command_line).settings["scc"]["n_steps"] == 30
    assert resolve(command_line, namespace="cub", dataset={}).settings["scc"]["n_steps"] == 60


def project_parameters(tmp_path, params: str = "", local: dict | None = None) -> dict:
    """The parameters as ``kedro run --params=<params>`` loads them, with ``local`` in conf/local."""
    shutil.copytree(PROJECT_ROOT / "conf" / "base", tmp_path / "conf" / "base")
    (tmp_path / "conf" / "local").mkdir()
    if local:
        (tmp_path / "conf" / "local" / "parameters_tuned.yml").write_text(yaml.safe_dump(local))
    runtime = _split_params(None, None, params) if params else {}
    return OmegaConfigLoader(str(tmp_path / "conf"), runtime_params=runtime, **CONFIG_LOADER_ARGS)[
        "parameters"
    ]


def resolve_project(parameters: dict, namespace: str) -> RunConfiguration:
    blocks = {name: parameters.get(name) or {} for name in CONFIGURABLE_BLOCKS}
    return resolve_run_configuration(namespace, blocks, parameters.get(namespace), parameters["command_line"])


def test_the_project_configuration_resolves_for_every_namespace(tmp_path):
    parameters = project_parameters(tmp_path)
    assert parameters["command_line"] == {}
    synthetic, cub, sun = (resolve_project(parameters, ns) for ns in ("synthetic", "cub", "sun"))
    # the synthetic default is sized for CPU, real datasets keep the real-data defaults
    assert synthetic.settings["scc"]["encoder_hidden"] != cub.settings["scc"]["encoder_hidden"]
    assert synthetic.settings["l2_normalize"] is True and cub.settings["l2_normalize"] is False
    assert sun.settings["scc"]["batch_size"] != cub.settings["scc"]["batch_size"]


def test_command_line_reaches_every_namespace_through_kedro(tmp_path):
    parameters = project_parameters(tmp_path, "fsigenz.scc.n_steps=60,sun.fsigenz.scc.n_steps=7")
    assert resolve_project(parameters, "synthetic").settings["scc"]["n_steps"] == 60  # beats synthetic's own
    assert resolve_project(parameters, "cub").settings["scc"]["n_steps"] == 60
    assert resolve_project(parameters, "sun").settings["scc"]["n_steps"] == 7


def test_conf_local_beats_per_dataset_defaults_and_loses_to_the_command_line(tmp_path):
    local = {"synthetic": {"fsigenz": {"scc": {"encoder_hidden": 48, "beta": 0.7}}}}
    parameters = project_parameters(tmp_path, "fsigenz.scc.beta=0.3", local)
    settings = resolve_project(parameters, "synthetic").settings["scc"]
    assert settings["encoder_hidden"] == 48 and settings["beta"] == 0.3
    per_dataset = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_datasets.yml").read_text())[
        "synthetic"
    ]
    assert settings["n_steps"] == per_dataset["fsigenz"]["scc"]["n_steps"]  # synthetic's other defaults stay


@pytest.mark.parametrize(
    "command_line, message",
    [
        (
            {"fsigenz": {"scc": {"betaa": 0.3}}},
            r"^fsigenz\.scc\.betaa: unknown setting; expected one of \[.*'beta'",
        ),
        ({"fsigenz": {"scc": {"beta": "abc"}}}, r"^fsigenz\.scc\.beta: expected a number, got 'abc'"),
        (
            {"synthetic": {"fsigenz": {"scc": {"n_steps": 2.5}}}},
            r"^fsigenz\.scc\.n_steps: expected an integer, got 2\.5",
        ),
        ({"fsigenz": {"scc": 5}}, r"^fsigenz\.scc: expected a mapping of \["),
        ({"ncm": {"scc": {"beta": 0.3}}}, r"^ncm\.scc: unknown setting; expected one of"),
        ({"ncm": {"metrics": "cosine"}}, r"^ncm\.metrics: unknown setting"),
        ({"model": {"method": "gan"}}, r"^model\.method: expected one of \['cadavae', 'eszsl'"),
        ({"model": {"selection": {"metrc": "gzsl_h"}}}, r"^model\.selection\.metrc: unknown setting"),
        ({"model": {"selection": {"seed": "x"}}}, r"^model\.selection\.seed: expected an integer, got 'x'"),
        (
            {"model": {"selection": {"grids": {"fsigenz": {"scc.betta": [0.1]}}}}},
            r"^model\.selection\.grids\.fsigenz\.scc\.betta: 'scc\.betta' is not a setting of fsigenz",
        ),
        (
            {"model": {"selection": {"grids": {"fsigenz": {"scc.beta": ["x"]}}}}},
            r"^model\.selection\.grids\.fsigenz\.scc\.beta: fsigenz\.scc\.beta: expected a number, got 'x'",
        ),
    ],
)
def test_invalid_settings_are_refused_naming_the_full_key(command_line, message):
    with pytest.raises(SettingsError, match=message):
        resolve(command_line)


def test_a_method_may_have_its_own_selection_criterion():
    global_blocks = {**GLOBAL, "model": {"method": "fsigenz", "selection": {"metric": "gzsl_h_cs"}}}
    global_blocks["model"]["selection"]["metrics"] = {"eszsl": "czsl_top1"}
    assert (
        resolve({"model": {"method": "eszsl"}}, global_blocks=global_blocks).selection.metric == "czsl_top1"
    )
    assert resolve(global_blocks=global_blocks).selection.metric == "gzsl_h_cs"  # the others keep `metric`
    by_h = {"model": {"method": "eszsl", "selection": {"metrics": {"eszsl": "gzsl_h"}}}}
    assert resolve(by_h, global_blocks=global_blocks).selection.metric == "gzsl_h"


@pytest.mark.parametrize(
    "metrics, message",
    [
        ({"esz": "czsl_top1"}, r"^model\.selection\.metrics\.esz: unknown method; expected one of \["),
        ({"eszsl": 3}, r"^model\.selection\.metrics\.eszsl: expected a string, got 3"),
        ("czsl_top1", r"^model\.selection\.metrics: expected a mapping of method -> metric"),
    ],
)
def test_a_bad_per_method_criterion_is_refused_naming_the_key(metrics, message):
    with pytest.raises(SettingsError, match=message):
        resolve({"model": {"selection": {"metrics": metrics}}})


def test_the_project_selects_eszsl_as_its_paper(tmp_path):
    eszsl = resolve_project(project_parameters(tmp_path, "model.method=eszsl"), "awa2")
    assert eszsl.selection.metric == "czsl_top1"
    assert (
        min(eszsl.grid["feature_regularization"]) == 1e-3 and max(eszsl.grid["feature_regularization"]) == 1e6
    )
    assert min(eszsl.grid["attribute_regularization"]) == 1e-3
    assert max(eszsl.grid["attribute_regularization"]) == 1e3


def test_the_prototypes_come_from_the_chosen_methods_own_settings():
    command_line = {"model": {"method": "ncm"}, "ncm": {"prototypes": {"n_prototypes": 5}}}
    ncm = resolve(command_line)
    assert ncm.prototype_method == "ncm" and ncm.n_prototypes == 5
    assert ncm.settings["prototypes"]["n_prototypes"] == 5 and "scc" not in ncm.settings
    # a method without prototypes makes the table with FSIGenZ's settings, for inspection only
    eszsl = resolve({"model": {"method": "eszsl"}})
    assert eszsl.prototype_method == "fsigenz" and eszsl.n_prototypes == 20


def test_the_configuration_round_trips_through_its_catalog_dataset(tmp_path):
    configuration = resolve({"model": {"method": "fclswgan"}})
    dataset = RunConfigurationDataset(str(tmp_path / "run_configuration.yml"))
    dataset.save(configuration)
    assert dataset.load() == configuration
    assert yaml.safe_load((tmp_path / "run_configuration.yml").read_text())["method"] == "fclswgan"
