"""Run every benchmark and write the summary: benchmarks/results/latest.json and latest.md.

    python benchmarks/run_all.py                     # the full suite (about 10 min on 2 idle CPU cores)
    python benchmarks/run_all.py --quick             # smoke test: small sizes, writes quick.json / quick.md
    python benchmarks/run_all.py --only scc_throughput,stages
    python benchmarks/run_all.py --device cuda       # on a GPU machine: SCC bf16 vs the card's peak

Each benchmark runs in its own process (see its module for what it measures); ``--only`` reruns some
and keeps the others' last results from the output file. The top level of the JSON carries the
figures of merit — ``scc_step_vs_matmul``, ``sun_scoring_peak_mb``, ``fsigenz_vs_generative_speedup`` —
the goals they are held to, and ``machine``. See docs/benchmarks.md for how to read them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness

# name -> script; every script takes --quick and --output (feature_extraction.py: see _command)
SCRIPTS = {
    "scc_throughput": "scc_throughput.py",
    "stages": "stages.py",
    "fsigenz_vs_generative": "fsigenz_vs_generative.py",
    "startup": "startup.py",
    "feature_extraction": "feature_extraction.py",
}
DEVICE_AWARE = {"scc_throughput", "stages", "fsigenz_vs_generative", "feature_extraction"}
GOALS = {
    "scc_step_vs_matmul": (">=", 0.7),
    "sun_scoring_peak_mb": ("<=", 2048.0),
    "fsigenz_vs_generative_speedup": (">=", 10.0),
}
FEATURE_EXTRACTION_FILE = harness.RESULTS / "feature_extraction.json"
QUICK_FEATURE_EXTRACTION = ["--images", "8", "--batch-size", "4", "--num-workers", "1", "--repeats", "1"]


def _command(name: str, quick: bool, device: str, output: Path) -> list[str]:
    script = str(harness.BENCHMARKS / SCRIPTS[name])
    if name == "feature_extraction":  # its own CLI; it merges its record into its own JSON file
        return [sys.executable, script, "--device", device] + (QUICK_FEATURE_EXTRACTION if quick else [])
    command = [sys.executable, script, "--output", str(output)] + (["--quick"] if quick else [])
    if name in DEVICE_AWARE:
        command += ["--device", device]
    return command


def run_benchmark(name: str, quick: bool, device: str, scratch: Path) -> dict[str, Any]:
    output = scratch / f"{name}.json"
    saved = FEATURE_EXTRACTION_FILE.read_text() if FEATURE_EXTRACTION_FILE.is_file() else None
    print(f"\n=== {name} ===", flush=True)
    start = time.perf_counter()
    completed = subprocess.run(_command(name, quick, device, output), cwd=harness.PROJECT_ROOT)
    seconds = round(time.perf_counter() - start, 1)
    try:
        if completed.returncode != 0:
            return {
                "name": name,
                "error": f"exit code {completed.returncode} (see the log above)",
                "seconds": seconds,
            }
        if name == "feature_extraction":
            record = json.loads(FEATURE_EXTRACTION_FILE.read_text())[device]
            return harness.stamp(
                {"name": name, **record, "markdown": _feature_extraction_table(record)}, quick
            )
        return json.loads(output.read_text())
    finally:
        if name == "feature_extraction" and quick:  # a smoke test must not replace the real record
            if saved is None:
                FEATURE_EXTRACTION_FILE.unlink(missing_ok=True)
            else:
                FEATURE_EXTRACTION_FILE.write_text(saved)


def _feature_extraction_table(record: dict) -> str:
    return harness.print_table(
        [record],
        [
            ("model", "model"),
            ("device", "device"),
            ("images", "images"),
            ("batch_size", "batch"),
            ("bare_forward_images_per_s", "bare forward img/s"),
            ("pipeline_images_per_s", "pipeline img/s"),
            ("ratio", "ratio"),
            ("cpu_time_ratio", "CPU-time ratio"),
        ],
    )


def headline(benchmarks: dict[str, dict]) -> dict[str, Any]:
    """The top-level figures and the goals they meet."""
    scc = benchmarks.get("scc_throughput", {})
    stages = benchmarks.get("stages", {})
    versus = benchmarks.get("fsigenz_vs_generative", {})
    startup = benchmarks.get("startup", {})
    figures = {
        "scc_step_vs_matmul": scc.get("scc_step_vs_matmul"),
        "scc_step_vs_matmul_bf16": scc.get("scc_step_vs_matmul_bf16"),
        "scc_step_vs_matmul_one_thread": scc.get("scc_step_vs_matmul_one_thread"),
        "scc_step_vs_matmul_cuda_bf16": scc.get("scc_step_vs_matmul_cuda_bf16"),
        "scc_step_fraction_of_bf16_peak": scc.get("scc_step_fraction_of_bf16_peak"),
        "scc_step_vs_matmul_cuda_bf16_training_batch": scc.get("scc_step_vs_matmul_cuda_bf16_training_batch"),
        "scc_step_fraction_of_bf16_peak_training_batch": scc.get(
            "scc_step_fraction_of_bf16_peak_training_batch"
        ),
        "sun_scoring_peak_mb": stages.get("sun_scoring_peak_mb"),
        "fsigenz_vs_generative_speedup": versus.get("fsigenz_vs_generative_speedup"),
        "fsigenz_h": (versus.get("fsigenz") or {}).get("h_calibrated"),
        "generative_h": (versus.get("generative") or {}).get("h_calibrated"),
        "fsigenz_bf16_vs_generative_speedup": versus.get("fsigenz_bf16_vs_generative_speedup"),
        "fsigenz_bf16_h": (versus.get("fsigenz_bf16") or {}).get("h_calibrated"),
        "fsigenz_paper_vs_generative_speedup": versus.get("fsigenz_paper_vs_generative_speedup"),
        "fsigenz_paper_h": (versus.get("fsigenz_paper") or {}).get("h_calibrated"),
        "generative_configured_h": (versus.get("generative_configured") or {}).get("h_calibrated"),
        "reference_prototypes_ncm_h": (versus.get("prototypes_ncm") or {}).get("h_calibrated"),
        "reference_prototypes_ncm_vs_generative_speedup": versus.get("prototypes_ncm_vs_generative_speedup"),
        "kedro_run_startup_s": startup.get("kedro_run_startup_s"),
        "import_fsigenz_s": startup.get("import_fsigenz_s"),
    }
    goals = {}
    for key, (operator, bound) in GOALS.items():
        value = figures[key]
        met = None if value is None else (value >= bound if operator == ">=" else value <= bound)
        if key == "fsigenz_vs_generative_speedup" and met is not None:  # "at equal or better H"
            both = figures["fsigenz_h"] is not None and figures["generative_h"] is not None
            met = met and both and figures["fsigenz_h"] >= figures["generative_h"]
        goals[f"{key} {operator} {bound:g}"] = met
    return {**figures, "goals": goals}


def markdown(summary: dict[str, Any]) -> str:
    machine = summary["machine"]
    mode = "quick (smoke test: small sizes, not figures)" if summary["quick"] else "full"
    lines = [
        "# FSIGenZ benchmarks",
        "",
        f"{summary['date']} · mode: {mode} · device: {summary['device']} · commit {summary['git']['commit']}"
        + (" (uncommitted changes)" if summary["git"]["dirty"] else ""),
        "",
        f"**Machine**: {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs "
        f"({machine['physical_cores']} physical cores), torch {machine['torch']} with "
        f"{machine['torch_threads']} threads, AVX-512 BF16: {'yes' if machine['avx512_bf16'] else 'no'}, "
        f"AMX: {'yes' if machine['amx_bf16'] else 'no'}, "
        f"CUDA: {machine['cuda_device'] or 'none'}. Load average (1, 5, 15 min) before / after: "
        f"{summary['load_average_before']} / {summary['load_average_after']}."
        + "".join(f" `{k}={v}`." for k, v in (machine.get("omp_environment") or {}).items()),
        "",
    ]
    if summary["load_average_before"] and summary["load_average_before"][0] > 0.5 * (
        machine["logical_cpus"] or 1
    ):
        lines += [
            "> **Measured on a busy machine** (1-minute load average above half the cores): wall times are "
            "inflated and multi-threaded ratios are pessimistic; the one-thread ratios are the steadier.",
            "",
        ]
    lines += ["## Figures of merit", "", "| figure | value | goal | met |", "|---|---|---|---|"]
    goal_of = {key.split(" ")[0]: (key, met) for key, met in summary["goals"].items()}
    for key in (
        "scc_step_vs_matmul",
        "scc_step_vs_matmul_bf16",
        "scc_step_vs_matmul_one_thread",
        "scc_step_vs_matmul_cuda_bf16",
        "scc_step_fraction_of_bf16_peak",
        "scc_step_vs_matmul_cuda_bf16_training_batch",
        "scc_step_fraction_of_bf16_peak_training_batch",
        "sun_scoring_peak_mb",
        "fsigenz_vs_generative_speedup",
        "fsigenz_h",
        "generative_h",
        "fsigenz_bf16_vs_generative_speedup",
        "fsigenz_bf16_h",
        "fsigenz_paper_vs_generative_speedup",
        "fsigenz_paper_h",
        "generative_configured_h",
        "reference_prototypes_ncm_h",
        "reference_prototypes_ncm_vs_generative_speedup",
        "kedro_run_startup_s",
        "import_fsigenz_s",
    ):
        value = summary.get(key)
        if value is None:
            continue
        goal, met = goal_of.get(key, ("", None))
        goal_text = goal.split(" ", 1)[1] if goal else ""
        shown = f"{value:.3g}" if isinstance(value, float) and abs(value) < 100 else value
        lines.append(
            f"| `{key}` | {shown} | {goal_text} | {'' if met is None else ('yes' if met else '**no**')} |"
        )
    for name, result in summary["benchmarks"].items():
        lines += ["", f"## {name}", ""]
        if "error" in result:
            lines.append(f"**failed**: {result['error']}")
            continue
        lines.append(f"_{result.get('date', '')}{' · quick' if result.get('quick') else ''}_")
        lines += ["", result.get("markdown", "")]
        if name == "stages":
            lines += [
                "",
                f"Peak memory: process RSS high-water mark over the stage ({result.get('memory_method')}); "
                "`scc_epoch` is extrapolated from timed steps (see the note).",
            ]
    lines += [
        "",
        "Rerun: `make benchmark` "
        "(or `python benchmarks/run_all.py [--quick] [--only NAME] [--device cuda]`); "
        "see docs/benchmarks.md.",
        "",
    ]
    return "\n".join(lines)


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=harness.PROJECT_ROOT, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty": bool(git("--no-optional-locks", "status", "--porcelain")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (smoke test); writes quick.json / quick.md"
    )
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(SCRIPTS)}")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks not to run")
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON path (default benchmarks/results/latest.json; quick.json with --quick)",
    )
    args = parser.parse_args(argv)

    names = args.only.split(",") if args.only else list(SCRIPTS)
    names = [n for n in names if n not in set(args.skip.split(","))]
    unknown = sorted(set(names) - set(SCRIPTS))
    if unknown:
        parser.error(f"--only/--skip: unknown benchmark(s) {unknown}; expected some of {list(SCRIPTS)}")
    output = args.output or harness.RESULTS / ("quick.json" if args.quick else "latest.json")
    previous = json.loads(output.read_text()) if output.is_file() and args.only else {}
    benchmarks = dict(previous.get("benchmarks", {}))

    load_before = harness.load_average()
    git = _git()  # before the runs: feature_extraction rewrites a tracked results file
    started = time.perf_counter()
    scratch = harness.RESULTS / ".scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    for name in names:
        benchmarks[name] = run_benchmark(name, args.quick, args.device, scratch)
    for file in scratch.glob("*.json"):
        file.unlink()
    scratch.rmdir()

    figures = headline(benchmarks)
    if args.quick:  # small sizes say nothing about the goals
        figures["goals"] = dict.fromkeys(figures["goals"])
    summary = {
        **figures,
        "machine": harness.machine_info(),
        "quick": args.quick,
        "device": args.device,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_before": load_before,
        "load_average_after": harness.load_average(),
        "git": git,
        "command": " ".join(
            ["python", "benchmarks/run_all.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "benchmarks": {name: benchmarks[name] for name in SCRIPTS if name in benchmarks},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(summary, indent=2) + "\n")
    report = output.with_suffix(".md")
    report.write_text(markdown(summary))
    print(f"\nSummary written to {output} and {report} ({summary['seconds']:.0f} s)")
    for goal, met in summary["goals"].items():
        print(f"  {goal}: {'not evaluated' if met is None else ('met' if met else 'NOT met')}")
    failed = [name for name in names if "error" in benchmarks[name]]
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
