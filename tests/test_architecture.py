"""The method library stays free of Kedro and MLflow (docs/architecture in README): only the
Kedro layer (pipelines, hooks, settings, registry) may import them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fsigenz"
KEDRO_LAYER = {
    "pipelines",
    "hooks.py",
    "settings.py",
    "pipeline_registry.py",
    "__main__.py",
    "definitions.py",
    "cli.py",
    "run_records.py",
    "publication.py",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_library_imports_neither_kedro_nor_mlflow():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in KEDRO_LAYER:
            continue
        bad = _imports(path) & {"kedro", "kedro_mlflow", "kedro_datasets", "mlflow"}
        if bad and relative.parts[0] != "serving":  # the MLflow pyfunc wrapper is the serving boundary
            offenders.append(f"{relative}: {sorted(bad)}")
    assert not offenders, "library modules importing the Kedro/MLflow layer:\n" + "\n".join(offenders)
