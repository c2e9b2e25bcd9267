"""kedro-viz builds the namespaced pipelines; the registry picks the namespaces whose data is there."""

from __future__ import annotations

import json

import pytest

from fsigenz.pipeline_registry import available_namespaces
from tests.kedro_project import kedro, make_project


@pytest.mark.slow
def test_kedro_viz_build_shows_namespaces(tmp_path):
    project = make_project(tmp_path / "project")
    (project / "data/01_raw/awa2").mkdir()
    (project / "data/01_raw/awa2/att_splits.mat").write_bytes(b"")  # presence is enough for the registry
    result = kedro(project, "viz", "build")
    assert result.returncode == 0, result.stderr[-2000:]
    graph = json.loads((project / "build/api/main").read_text())
    assert {"synthetic", "awa2"} <= set(graph["modular_pipelines"])
    node_names = {node["name"] for node in graph["nodes"]}
    assert any("select_on_validation" in name for name in node_names)


def test_available_namespaces(tmp_path):
    raw = tmp_path / "01_raw"
    (raw / "cub").mkdir(parents=True)
    (raw / "cub" / "README.md").write_text("placeholder")
    (raw / "sun").mkdir()
    (raw / "sun" / "att_splits.mat").write_bytes(b"")
    assert available_namespaces(raw) == ["synthetic", "sun"]
