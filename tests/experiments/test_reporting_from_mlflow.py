"""The reports built from an MLflow store: in-process (dataset + nodes) and through the study runner and
kedro."""

import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from kedro.io import DatasetError

from fsigenz.pipelines.reporting.datasets import MlflowRunsDataset, MlflowTagsDataset
from fsigenz.pipelines.reporting.nodes import collect_runs, report_comparison, report_studies
from tests.conftest import PROJECT_ROOT
from tests.experiments.conftest import log_fake_experiment
from tests.kedro_project import make_project

PARAMETERS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_experiments.yml").read_text())


def test_report_from_a_temporary_store(mlflow_store, tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_store)
    log_fake_experiment(
        client, client.create_experiment("fsigenz", artifact_location=(tmp_path / "art").as_uri())
    )
    runs = MlflowRunsDataset(experiment_name="fsigenz").load()
    assert len(runs) == 10 and {"run_id", "status", "metrics.synthetic.gzsl_h", "params.model.method"} <= set(
        runs.columns
    )

    published = yaml.safe_load((PROJECT_ROOT / "conf/base/published.yml").read_text())
    table, markdown, figure, beside = report_comparison(
        collect_runs(runs), PARAMETERS["reporting"], published
    )
    assert list(zip(table["method"], table["h"], table["n_synthetic_per_class"], strict=True)) == [
        ("fsigenz", 44.0, 20),
        ("tcn", 33.0, 0),
        ("eszsl", 36.0, 0),
        ("fclswgan", 40.0, 300),
    ]  # configured order
    # one run each (no seeds study here): no interval; the fake runs log no AUSUC
    assert "| FSIGenZ | synthetic | 1 | 49.0 | 34.0 | 64.0 | 44.0 | 47.0 | – | 20 |" in markdown
    assert beside.empty  # the fake runs record no features: no published number is comparable
    assert "| f-CLSWGAN | synthetic |" in markdown
    figure.savefig(tmp_path / "efficiency.png")
    assert (tmp_path / "efficiency.png").stat().st_size > 10_000

    tables, texts, figures = report_studies(collect_runs(runs), PARAMETERS["studies"])
    assert set(tables) == set(PARAMETERS["studies"]) and set(figures) == {
        f"{s}.png" for s in PARAMETERS["studies"]
    }
    assert list(tables["ablation"]["setting"]) == ["full", "without_msas", "without_dpsr", "without_both"]
    assert tables["sensitivity"].empty and texts["ablation"].startswith("# Study: ablation")


def test_runs_dataset_errors_name_the_cause(mlflow_store):
    with pytest.raises(DatasetError, match="no experiment 'missing'"):
        MlflowRunsDataset(experiment_name="missing").load()
    with pytest.raises(DatasetError, match="no active MLflow run"):
        MlflowRunsDataset().load()
    with pytest.raises(DatasetError, match="read-only"):
        MlflowRunsDataset().save(pd.DataFrame())


def test_tags_dataset_writes_prefixed_tags_of_the_active_run_only(mlflow_store):
    import mlflow

    dataset = MlflowTagsDataset(prefix="cub")
    dataset.save({"features": "ResNet-101 (xlsa17)"})  # no active run: nothing to write, no error
    with mlflow.start_run() as run:
        dataset.save({"features": "ResNet-101 (xlsa17)", "semantics": "attributes"})
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["cub.features"] == "ResNet-101 (xlsa17)" and tags["cub.semantics"] == "attributes"
    with pytest.raises(DatasetError, match="expected a dict of tags"):
        dataset.save(["features"])
    with pytest.raises(DatasetError, match="write-only"):
        dataset.load()


@pytest.mark.slow
def test_study_runner_tags_its_runs_and_the_reporting_pipeline_writes_the_report(tmp_path):
    from mlflow import MlflowClient

    project = make_project(tmp_path / "project")
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment_id = client.create_experiment("fsigenz", artifact_location=(project / "mlartifacts").as_uri())
    log_fake_experiment(client, experiment_id)
    # a quick study: one setting of the data_ingestion pipeline, with a parameter that reaches MLflow
    (project / "conf/local/parameters_smoke.yml").write_text(
        "studies:\n  smoke:\n    settings:\n      seed3: {synthetic.source.seed: 3}\n"
    )
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts/run_study.py"), "smoke", "--pipeline", "data_ingestion"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    runs = {run.info.run_name: run for run in client.search_runs([experiment_id], "tags.study = 'smoke'")}
    assert set(runs) == {"smoke/seed3", "smoke/report"}
    setting = runs["smoke/seed3"]
    assert setting.info.status == "FINISHED" and setting.data.params["synthetic.source.seed"] == "3"
    assert {k: setting.data.tags[k] for k in ("study", "setting", "study_role")} == {
        "study": "smoke",
        "setting": "seed3",
        "study_role": "setting",
    }
    report = runs["smoke/report"]
    assert report.data.tags["study_role"] == "report"
    artifacts = {a.path for a in client.list_artifacts(report.info.run_id, "reporting")}
    assert {
        "reporting/comparison.md",
        "reporting/comparison.csv",
        "reporting/efficiency.png",
        "reporting/published.csv",
        "reporting/studies",
    } <= artifacts

    reporting = project / "data/08_reporting"
    comparison = pd.read_csv(reporting / "comparison/comparison.csv")
    assert list(comparison["method"]) == ["fsigenz", "tcn", "eszsl", "fclswgan"]
    assert "| f-CLSWGAN | synthetic |" in (reporting / "comparison/comparison.md").read_text()
    assert list(pd.read_csv(reporting / "studies/ablation.csv")["h"]) == [44.0, 41.0, 20.0, 18.0]
    for name in (
        "comparison/efficiency.png",
        "studies/ablation.png",
        "studies/sensitivity.png",
        "studies/smoke.png",
    ):
        assert (reporting / name).stat().st_size > 5_000, name
