"""End to end through ``kedro run`` in a scratch copy of the project (conf + data), as a user runs it."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3

import pandas as pd
import pytest
import yaml

from tests.kedro_project import kedro, make_project

TINY_SCC = {"encoder_hidden": 32, "scorer_hidden": 32, "n_steps": 60, "eval_every": 20, "batch_size": 64}
METRIC_KEYS = {
    "czsl_top1",
    "gzsl_unseen",
    "gzsl_seen",
    "gzsl_h",
    "gzsl_unseen_cs",
    "gzsl_seen_cs",
    "gzsl_h_cs",
}

pytestmark = pytest.mark.slow


def tiny_params(namespace: str | None = None) -> str:
    """The tiny SCC for one namespace, or (``None``) globally: a global value beats per-dataset defaults."""
    prefix = f"{namespace}." if namespace else ""
    return ",".join(f"{prefix}fsigenz.scc.{key}={value}" for key, value in TINY_SCC.items())


def run_configuration(project, namespace: str = "synthetic") -> dict:
    return yaml.safe_load((project / f"data/02_intermediate/{namespace}/run_configuration.yml").read_text())


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("synthetic_project"))
    result = kedro(project, "run", f"--params={tiny_params()}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project, result


def test_a_global_command_line_value_beats_the_per_dataset_default(synthetic_run):
    project, _ = synthetic_run
    configuration = run_configuration(project)
    assert {key: configuration["settings"]["scc"][key] for key in TINY_SCC} == TINY_SCC
    metrics = json.loads((project / "data/08_reporting/synthetic/metrics.json").read_text())
    selection = json.loads((project / "data/06_models/synthetic/model_selection.json").read_text())
    evaluated = [point["step"] for curve in selection["curves"] for point in curve["points"]]
    assert max(evaluated) <= TINY_SCC["n_steps"]  # trained at most the command line's steps
    assert (
        0 <= metrics["selected_step"] <= TINY_SCC["n_steps"]
    )  # 0: the anchored classifier's prototypes alone


def test_default_run_writes_metrics_and_mlflow_run(synthetic_run):
    project, result = synthetic_run
    metrics = json.loads((project / "data/08_reporting/synthetic/metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics) and metrics["method"] == "fsigenz"
    assert all(0.0 <= metrics[key] <= 100.0 for key in METRIC_KEYS)
    assert (
        metrics["n_synthetic_per_class"]
        == run_configuration(project)["prototype_settings"]["prototypes"]["n_prototypes"]
    )
    assert "Metrics written to" in result.stdout + result.stderr
    with sqlite3.connect(project / "mlflow.db") as db:
        metric_keys = {row[0] for row in db.execute("select distinct key from metrics")}
        param_keys = {row[0] for row in db.execute("select distinct key from params")}
    assert {f"synthetic.{key}" for key in METRIC_KEYS} <= metric_keys
    assert "synthetic.validation_curve.gzsl_h" in metric_keys
    assert ("synthetic.train_loss" in metric_keys) == (metrics["selected_step"] > 0)  # no step, no loss
    assert any(key.startswith("time.") for key in metric_keys)  # wall time of each stage
    assert "fsigenz.msas.enabled" in param_keys and "model.method" in param_keys
    artifacts = {p.name for p in (project / "mlartifacts").rglob("*") if p.is_file()}
    assert {
        "trained_model.pkl",
        "prototypes.parquet",
        "metrics.json",
        "run_configuration.yml",
        "seen_unseen_curve.png",
        "unseen_class_accuracy.csv",
        "confused_pairs.csv",
    } <= artifacts
    # AUSUC for every run; the inputs the report matches published numbers on, as tags
    assert 0.0 < metrics["ausuc"] <= 100.0 and "synthetic.ausuc" in metric_keys
    with sqlite3.connect(project / "mlflow.db") as db:
        tags = dict(db.execute("select key, value from tags where key like 'synthetic.%'").fetchall())
    assert tags == {"synthetic.features": "synthetic", "synthetic.semantics": "synthetic"}
    per_class = pd.read_csv(project / "data/08_reporting/synthetic/unseen_class_accuracy.csv")
    assert len(per_class) == 10 and per_class["gzsl_cs"].is_monotonic_increasing  # hardest unseen class first


def test_training_progress_is_logged_and_its_curves_reach_mlflow_while_the_node_runs(synthetic_run):
    project, result = synthetic_run
    output = result.stdout + result.stderr
    # the output is no terminal here: log lines instead of a bar, with the selection metric's best value
    assert f"synthetic.select_on_validation scc: started, {TINY_SCC['n_steps']} steps" in output
    assert re.search(
        r"synthetic\.select_on_validation scc: done, \d+/60 steps in \d+:\d\d; best gzsl_h", output
    )
    with sqlite3.connect(project / "mlflow.db") as db:
        curve = db.execute(
            "select key, step, timestamp from metrics where key like "
            "'synthetic.select_on_validation.scc.validation.%' order by step"
        ).fetchall()
        losses = db.execute(
            "select step from metrics where key = ? order by timestamp, step",
            ("synthetic.select_on_validation.scc.loss",),
        ).fetchall()
        (node_finished,) = db.execute(
            "select timestamp from metrics where key = 'time.synthetic.select_on_validation'"
        ).fetchone()
    selection = json.loads((project / "data/06_models/synthetic/model_selection.json").read_text())
    metric = run_configuration(project)["selection"]["metric"]
    assert {key for key, _, _ in curve} == {f"synthetic.select_on_validation.scc.validation.{metric}"}
    points = selection["curves"][0]["points"]
    assert [step for _, step, _ in curve] == [point["step"] for point in points]
    assert all(timestamp <= node_finished for _, _, timestamp in curve)  # logged before the node ended
    loss_steps = [step for (step,) in losses]  # in the order they were computed
    assert loss_steps == sorted(loss_steps) and loss_steps[-1] == points[-1]["step"]


def test_prototype_table_has_class_lambda_and_vector(synthetic_run):
    project, _ = synthetic_run
    table = pd.read_parquet(project / "data/04_feature/synthetic/prototypes.parquet")
    dataset = pd.read_pickle(project / "data/02_intermediate/synthetic/dataset.pkl")
    n_prototypes = run_configuration(project)["prototype_settings"]["prototypes"]["n_prototypes"]
    assert {"class", "lambda", "vector", "settings"} <= set(table.columns)
    assert (
        len(table) == dataset.unseen_classes.size * n_prototypes
        and len(table["vector"].iloc[0]) == dataset.feature_dim
    )
    assert table.groupby("class")["lambda"].nunique().eq(n_prototypes).all()


def test_ncm_trains_with_its_own_prototype_settings(tmp_path):
    project = make_project(tmp_path / "project")
    result = kedro(project, "run", "--params=model.method=ncm,ncm.prototypes.n_prototypes=5")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = pd.read_parquet(project / "data/04_feature/synthetic/prototypes.parquet")
    assert table.groupby("class")["prototype"].nunique().eq(5).all()
    metrics = json.loads((project / "data/08_reporting/synthetic/metrics.json").read_text())
    assert metrics["method"] == "ncm" and metrics["n_synthetic_per_class"] == 5


@pytest.mark.parametrize(
    "params, message",
    [
        ("fsigenz.scc.betaa=0.3", "fsigenz.scc.betaa: unknown setting; expected one of"),
        ("fsigenz.scc.beta=abc", "fsigenz.scc.beta: expected a number, got 'abc'"),
    ],
)
def test_an_invalid_parameter_fails_before_any_training_naming_the_key(tmp_path, params, message):
    project = make_project(tmp_path / "project")
    result = kedro(project, "run", f"--params={params}")
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())
    assert message in output
    assert (
        "Running node: select_on_validation" not in output
        and not (project / "data/04_feature/synthetic").exists()
    )


def test_prototypes_pipeline_runs_alone(tmp_path):
    project = make_project(tmp_path / "project")
    result = kedro(project, "run", "--pipelines=prototypes")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (project / "data/04_feature/synthetic/prototypes.parquet").is_file()
    assert not (project / "data/06_models/synthetic").exists()  # no training in this pipeline


def test_real_awa2_split_files_run_end_to_end(tmp_path, real_xlsa17_copy):
    project = make_project(tmp_path / "project")
    raw = real_xlsa17_copy("awa2", feature_dim=32)
    shutil.copytree(raw, project / "data/01_raw/awa2")
    result = kedro(project, "run", "--namespaces=awa2", f"--params={tiny_params('awa2')}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((project / "data/08_reporting/awa2/metrics.json").read_text())
    assert metrics["dataset"] == "awa2" and METRIC_KEYS <= set(metrics)
    assert not (project / "data/08_reporting/synthetic").exists()


def test_broken_feature_file_fails_naming_it(tmp_path, real_xlsa17_copy):
    project = make_project(tmp_path / "project")
    shutil.copytree(real_xlsa17_copy("awa2", feature_dim=8), project / "data/01_raw/awa2")
    (project / "data/01_raw/awa2/res101.mat").write_bytes(b"truncated")
    result = kedro(project, "run", "--namespaces=awa2")
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())
    assert "res101.mat: not a readable MATLAB .mat file" in output
    assert not (project / "data/02_intermediate/awa2").exists()  # nothing half-written
