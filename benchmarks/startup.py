"""Start-up cost: ``kedro run`` until its first node starts, against ``python -c "import fsigenz"``.

``kedro run --pipelines data_ingestion --namespaces synthetic`` runs in a throw-away copy of the
project (pyproject.toml, conf/base, src) so that the real ``data/`` and ``mlflow.db`` are never
touched. Its start-up is the wall time from launching the command to the log line of its first node
("Running node: ..."): CLI and plugin loading, the Kedro session, configuration, the pipeline
registry, kedro-mlflow's run creation. The first run in the copy also creates the MLflow SQLite
database (reported separately, as ``first_run``); the next runs are the warm case, repeated.

Reference points, each a fresh interpreter: ``python -c pass``, ``import fsigenz`` (the package
itself is light), ``import torch`` and ``import mlflow`` (what a run pays for anyway).

    python benchmarks/startup.py [--quick] [--repeats 3]

``--quick`` runs each import once and ``kedro run`` once (the cold first run, which then stands for
the start-up figure).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness

IMPORTS = {
    "python_bare": "pass",
    "import_fsigenz": "import fsigenz",
    "import_fsigenz_method": "import fsigenz.methods.fsigenz",  # the library, torch included
    "import_torch": "import torch",
    "import_mlflow": "import mlflow",
}
KEDRO_COMMAND = ["run", "--pipelines", "data_ingestion", "--namespaces", "synthetic"]
FIRST_NODE_MARK = "Running node"
ENVIRONMENT = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "HF_HUB_OFFLINE": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "COLUMNS": "250",  # rich wraps log lines at the terminal width
}


def _environment() -> dict[str, str]:
    return {**os.environ, **ENVIRONMENT}


def time_import(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=_environment(), cwd=harness.PROJECT_ROOT)
    return time.perf_counter() - start


def project_copy(folder: Path) -> Path:
    """The files ``kedro run`` needs, copied (mtimes kept, so cached bytecode stays valid)."""
    shutil.copy2(harness.PROJECT_ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copytree(harness.PROJECT_ROOT / "conf" / "base", folder / "conf" / "base")
    (folder / "conf" / "local").mkdir()
    shutil.copytree(harness.PROJECT_ROOT / "src", folder / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    return folder


def time_kedro_run(project: Path) -> dict[str, float | None]:
    """Seconds to the first node's log line and to the end of ``kedro run``."""
    kedro = Path(sys.executable).with_name("kedro")
    command = [str(kedro) if kedro.exists() else "kedro", *KEDRO_COMMAND]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=project,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    first_node = None
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        if first_node is None and FIRST_NODE_MARK in line:
            first_node = time.perf_counter() - start
        tail = (tail + [line])[-40:]
    code = process.wait()
    total = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"kedro {' '.join(KEDRO_COMMAND)} failed (exit {code}):\n{''.join(tail)}")
    return {"to_first_node_s": first_node, "total_s": total}


def run(quick: bool = False, repeats: int | None = None) -> dict:
    repeats = repeats or (1 if quick else 3)
    warmup_rounds = 0 if quick else 1  # the first round warms the file cache and is dropped
    imports = {name: [] for name in IMPORTS}
    for _ in range(repeats + warmup_rounds):
        for name, code in IMPORTS.items():
            imports[name].append(time_import(code))
    imports = {name: values[warmup_rounds:] for name, values in imports.items()}
    with tempfile.TemporaryDirectory(prefix="fsigenz-startup-") as tmp:
        project = project_copy(Path(tmp))
        first = time_kedro_run(project)
        print(f"[startup] first kedro run (creates mlflow.db): {first}", flush=True)
        warm = [] if quick else [time_kedro_run(project) for _ in range(repeats)]
        print(f"[startup] warm kedro runs: {warm}", flush=True)
    if not warm:  # --quick: the cold run stands in
        warm = [first]
    to_node = [w["to_first_node_s"] for w in warm if w["to_first_node_s"] is not None]
    kedro_start = statistics.median(to_node) if to_node else None
    import_fsigenz = statistics.median(imports["import_fsigenz"])
    rows = [{"what": name, "median_s": statistics.median(v), "best_s": min(v)} for name, v in imports.items()]
    kind = "cold, --quick" if quick else "warm"
    rows.append(
        {
            "what": f"kedro run → first node ({kind})",
            "median_s": kedro_start,
            "best_s": min(to_node) if to_node else None,
        }
    )
    rows.append(
        {
            "what": f"kedro run → end ({kind})",
            "median_s": statistics.median(w["total_s"] for w in warm),
            "best_s": min(w["total_s"] for w in warm),
        }
    )
    rows.append(
        {
            "what": "first kedro run → first node (creates mlflow.db)",
            "median_s": first["to_first_node_s"],
            "best_s": first["to_first_node_s"],
        }
    )
    table = harness.print_table(rows, [("what", "command"), ("median_s", "median s"), ("best_s", "best s")])
    return {
        "name": "startup",
        "command": "kedro " + " ".join(KEDRO_COMMAND),
        "repeats": repeats,
        "imports_s": {name: [round(x, 4) for x in values] for name, values in imports.items()},
        "first_run": first,
        "warm_runs": warm,
        "kedro_run_startup_s": None if kedro_start is None else round(kedro_start, 3),
        "kedro_run_startup_kind": "cold: first run, creates mlflow.db"
        if quick
        else f"warm: median of {repeats}",
        "import_fsigenz_s": round(import_fsigenz, 4),
        "kedro_startup_vs_import": None if kedro_start is None else round(kedro_start / import_fsigenz, 1),
        "markdown": table,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat")
    parser.add_argument("--repeats", type=int)
    parser.add_argument(
        "--output", type=Path, help="JSON file (default benchmarks/results/startup[_quick].json)"
    )
    args = parser.parse_args(argv)
    result = harness.stamp(run(args.quick, args.repeats), args.quick)
    print(f"written to {harness.write_result('startup', result, args.output)}")
    return result


if __name__ == "__main__":
    main()
