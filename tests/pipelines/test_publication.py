"""A run's file outputs are staged and published together (fsigenz.publication), on a small catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from kedro_datasets.json import JSONDataset
from kedro_datasets.pickle import PickleDataset

from fsigenz.publication import JOURNAL, OWNER, STAGING, StagedOutputs, finish_interrupted_publications
from fsigenz.run_records import process_started


def _project(tmp_path):
    catalog = DataCatalog(
        datasets={
            "table": PickleDataset(filepath=str(tmp_path / "data/04_feature/table.pkl")),
            "metrics": JSONDataset(filepath=str(tmp_path / "data/08_reporting/metrics.json")),
            "scratch": MemoryDataset(),
        }
    )
    pipeline = Pipeline(
        [
            node(lambda: 1, None, "scratch", name="first"),
            node(lambda x: {"n": x}, "scratch", "table", name="second"),
            node(lambda t: t, "table", "metrics", name="third"),
        ]
    )
    return catalog, pipeline, {"project_path": str(tmp_path), "run_id": "run-1"}


def test_outputs_appear_only_when_the_run_ends(tmp_path):
    catalog, pipeline, run_params = _project(tmp_path)
    hook = StagedOutputs()
    hook.before_pipeline_run(run_params, pipeline, catalog)
    catalog.save("table", {"n": 1})
    assert catalog.load("table") == {"n": 1}  # the run reads what it wrote, from the staging folder
    assert not (tmp_path / "data/04_feature/table.pkl").exists()
    catalog.save("metrics", {"n": 1})
    hook.after_pipeline_run()
    assert json.loads((tmp_path / "data/08_reporting/metrics.json").read_text()) == {"n": 1}
    assert (tmp_path / "data/04_feature/table.pkl").is_file()
    assert not (tmp_path / STAGING).exists()
    assert str(catalog.get("table")._filepath) == str(tmp_path / "data/04_feature/table.pkl")  # restored


def test_a_failed_run_leaves_the_previous_outputs(tmp_path):
    catalog, pipeline, run_params = _project(tmp_path)
    (tmp_path / "data/08_reporting").mkdir(parents=True)
    (tmp_path / "data/08_reporting/metrics.json").write_text('{"n": 0}')
    hook = StagedOutputs()
    hook.before_pipeline_run(run_params, pipeline, catalog)
    catalog.save("table", {"n": 1})
    hook.on_pipeline_error()
    assert not (tmp_path / "data/04_feature/table.pkl").exists()
    assert (tmp_path / "data/08_reporting/metrics.json").read_text() == '{"n": 0}'
    assert not (tmp_path / STAGING).exists()


def test_next_run_completes_a_stopped_publication_and_drops_a_stopped_run(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    owner = json.dumps({"pid": int(dead.stdout), "started": "0"})
    publishing = tmp_path / STAGING / "stopped-while-publishing"
    (publishing / "data").mkdir(parents=True)
    (publishing / "data/b.json").write_text("new b")
    (publishing / OWNER).write_text(owner)
    (publishing / JOURNAL).write_text(
        json.dumps(
            [
                [
                    str(publishing / "data/a.json"),
                    str(tmp_path / "data/a.json"),
                ],  # already moved before the stop
                [str(publishing / "data/b.json"), str(tmp_path / "data/b.json")],
            ]
        )
    )
    (tmp_path / "data/a.json").write_text("new a")
    stopped = tmp_path / STAGING / "stopped-while-running"
    (stopped / "data").mkdir(parents=True)
    (stopped / "data/a.json").write_text("half-made")
    (stopped / OWNER).write_text(owner)
    running = tmp_path / STAGING / "running-now"
    running.mkdir()
    (running / OWNER).write_text(json.dumps({"pid": os.getpid(), "started": process_started(os.getpid())}))

    finish_interrupted_publications(tmp_path)
    assert (tmp_path / "data/a.json").read_text() == "new a" and (
        tmp_path / "data/b.json"
    ).read_text() == "new b"
    assert not publishing.exists() and not stopped.exists()
    assert running.exists()  # a run going on at the same time keeps its folder
