"""Every notebook in notebooks/ runs end to end (nbclient) in a scratch project after two real `kedro run`s,
so that it cannot rot; and it is committed without outputs."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT
from tests.kedro_project import kedro, make_project
from tests.pipelines.test_kedro_runs import tiny_params

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 600  # generous for a loaded shared machine; on an idle one the notebook takes seconds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project_with_two_runs(tmp_path_factory):
    """A scratch project with an FSIGenZ run (tiny SCC) and an ESZSL run on the synthetic default."""
    project = make_project(tmp_path_factory.mktemp("notebook_project"))
    for params in (tiny_params("synthetic"), "synthetic.overrides.model.method=eszsl"):
        result = kedro(project, "run", f"--params={params}")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shutil.copytree(PROJECT_ROOT / "notebooks", project / "notebooks")
    return project


def test_there_is_a_notebook_and_it_is_committed_without_outputs():
    assert NOTEBOOKS, "notebooks/ holds no notebook"
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), (
            f"{path.name} has outputs"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_end_to_end(project_with_two_runs, path):
    notebook = nbformat.read(path, as_version=4)
    folder = project_with_two_runs / "notebooks"
    NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "fsigenz: 50 classes (10 unseen)" in text  # the trained model read from the catalog
    assert "2 runs in experiment 'fsigenz'" in text  # both runs found by mlflow.search_runs
    figures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(figures) >= 4  # similarity heatmap, per-class bars, seen-unseen curve, runs compared
