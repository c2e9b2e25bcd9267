"""A scratch copy of the project (conf + pyproject.toml, empty src/ and data/) and ``kedro`` run in it,
as a user runs it: enough for kedro to run the installed package without touching the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

KEDRO = str(Path(sys.executable).with_name("kedro"))


def make_project(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PROJECT_ROOT / "conf", path / "conf", ignore=shutil.ignore_patterns("local"))
    (path / "conf" / "local").mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", path)
    (path / "src").mkdir()
    (path / "data" / "01_raw").mkdir(parents=True)
    return path


def kedro(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        **(env or {}),
    }
    return subprocess.run(
        [KEDRO, *args], cwd=project, env=environment, capture_output=True, text=True, timeout=600
    )
