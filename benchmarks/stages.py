"""Wall time and peak memory of each FSIGenZ stage on CUB- and SUN-sized stand-ins.

Stages, each measured in its own fresh Python process (inputs are prepared there first, untimed):

- ``ingestion``: reading and validating the xlsa17 folder (att_splits.mat + a simulated res101.mat);
- ``msas_prototypes``: feature centring, MSAS and the ridge prototypes of every unseen class;
- ``similarity``: the DPSR class similarity and the BCE target tables;
- ``scc_epoch``: one SCC training epoch over trainval + prototypes, extrapolated from a few timed steps
  (the first steps are warm-up) — a full CUB epoch is ~3 TFLOP; its memory is that of the whole
  ``fit`` (phase one included, which is small next to the step's buffers);
- ``scoring``: evaluation on the test split (every test image against every class, chunked) and the
  metrics.

Hyperparameters are the project's real-data defaults for the namespace (conf/base: h = 1024, batch
128 for CUB and 64 for SUN); ``--quick`` uses d = 64 features and h = 64 to smoke-test the suite.
Peak memory: see ``harness.PeakMemory`` (process RSS high-water mark over the stage).

    python benchmarks/stages.py [--quick] [--datasets cub,sun] [--stages scoring] [--device cpu]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import tempfile
import time
from pathlib import Path

import standins

import harness

STAGES = ("ingestion", "msas_prototypes", "similarity", "scc_epoch", "scoring")
DATASETS = ("cub", "sun")
QUICK_SCC = {"encoder_hidden": 64, "scorer_hidden": 64}
SCC_WARMUP_STEPS = 2
SCC_TIMED_STEPS = {True: 3, False: 5}  # by quick


def _scc_flops_per_step(batch: int, n_classes: int, feature_dim: int, hidden: int) -> float:
    """Multiply-adds ×2 of the scorer's first layer: forward and the two backward GEMMs."""
    return 3 * 2.0 * batch * n_classes * feature_dim * hidden


def _parameters(namespace: str, quick: bool, device: str) -> dict:
    configuration = harness.method_configuration("fsigenz", namespace)
    parameters = copy.deepcopy(configuration.settings)
    scc = parameters.setdefault("scc", {})
    scc["device"] = device
    if device.startswith("cuda"):
        scc["use_bf16"] = True  # the GPU path is bf16
    if quick:
        scc.update(QUICK_SCC)
    return parameters


def worker(namespace: str, stage: str, source: dict, quick: bool, device: str) -> dict:
    """Prepare the inputs of ``stage``, then time it and record its peak memory."""
    import numpy as np

    from fsigenz.data.sources import load_source
    from fsigenz.methods.fsigenz import DPSR_DEFAULTS, FSIGenZClassifier, merge_settings
    from fsigenz.methods.similarity import build_target_tables, class_similarity
    from fsigenz.protocol import final_protocol

    harness.use_all_cores()
    parameters = _parameters(namespace, quick, device)
    result: dict = {"dataset": namespace, "stage": stage, "device": device}

    if stage == "ingestion":
        with harness.PeakMemory(device) as memory:
            start = time.perf_counter()
            dataset = load_source(source)
            seconds = time.perf_counter() - start
        return {**result, "seconds": seconds, **memory.as_dict(), "sizes": standins.describe(dataset)}

    dataset = load_source(source)
    protocol = final_protocol(dataset)
    task = protocol.task
    scc = parameters["scc"]
    if stage == "msas_prototypes":
        estimator = FSIGenZClassifier(**parameters)
        with harness.PeakMemory(device) as memory:
            start = time.perf_counter()
            prototypes, _ = estimator.generate_prototypes(task)
            seconds = time.perf_counter() - start
        return {**result, "seconds": seconds, **memory.as_dict(), "prototypes": list(prototypes.shape)}

    if stage == "similarity":
        estimator = FSIGenZClassifier(**parameters)
        estimator.generate_prototypes(task)  # MSAS: the adjusted attributes
        dpsr = merge_settings("dpsr", parameters.get("dpsr"), DPSR_DEFAULTS)
        with harness.PeakMemory(device) as memory:
            start = time.perf_counter()
            similarity = None
            if dpsr["enabled"]:
                similarity = class_similarity(
                    estimator.adjusted_attributes_, phi=dpsr["phi"], clip=dpsr["clip"]
                )
            build_target_tables(
                similarity, task.seen_classes, task.unseen_classes, dpsr_enabled=dpsr["enabled"]
            )
            seconds = time.perf_counter() - start
        return {**result, "seconds": seconds, **memory.as_dict()}

    if stage == "scc_epoch":
        timed = SCC_TIMED_STEPS[quick]
        scc.update(n_steps=SCC_WARMUP_STEPS + timed, eval_every=1, patience=None, restore_best=False)
        marks: list[tuple[float, float]] = []  # (monitor entered, monitor left) per step

        def monitor(step: int, _model) -> None:
            harness.synchronize(device)
            marks.append((time.perf_counter(), time.perf_counter()))

        estimator = FSIGenZClassifier(**parameters)
        # Memory over the whole fit (phase one is small next to the SCC's step buffers).
        with harness.PeakMemory(device) as memory:
            estimator.fit(task, monitor=monitor)
        step_seconds = [marks[i][0] - marks[i - 1][1] for i in range(SCC_WARMUP_STEPS, len(marks))]
        n_rows = len(task.features) + int(np.prod(estimator.prototypes_.shape[:2]))
        batch = min(int(scc["batch_size"]), n_rows)
        steps_per_epoch = math.ceil(n_rows / batch)
        step = sorted(step_seconds)[len(step_seconds) // 2]  # median
        flops = _scc_flops_per_step(batch, task.n_classes, dataset.feature_dim, int(scc["scorer_hidden"]))
        return {
            **result,
            "seconds": step * steps_per_epoch,
            "extrapolated": f"median of {len(step_seconds)} timed steps (after {SCC_WARMUP_STEPS} warm-up) "
            f"x {steps_per_epoch} steps per epoch",
            "step_seconds": [round(s, 4) for s in step_seconds],
            "steps_per_epoch": steps_per_epoch,
            "training_rows": n_rows,
            "batch_size": batch,
            "scorer_gflop_per_step": round(flops / 1e9, 2),
            "achieved_gflops": round(flops / step / 1e9, 1),
            "precision": "bf16" if estimator.scc_.use_bf16_ else "fp32",
            **memory.as_dict(),
        }

    if stage == "scoring":
        scc.update(n_steps=1, eval_every=1, patience=None)
        estimator = FSIGenZClassifier(**parameters).fit(task)  # scoring cost does not depend on the weights
        n_test = len(protocol.unseen_features) + len(protocol.seen_features)
        with harness.PeakMemory(device) as memory:
            start = time.perf_counter()
            metrics = protocol.evaluate(estimator, gamma=0.0)
            seconds = time.perf_counter() - start
        hidden, d = int(scc["scorer_hidden"]), dataset.feature_dim
        flops = n_test * task.n_classes * (2.0 * d * hidden + 2.0 * hidden)
        return {
            **result,
            "seconds": seconds,
            "test_images": n_test,
            "pairs_scored": n_test * task.n_classes,
            "score_chunk_size": int(scc.get("score_chunk_size", 16384)),
            "achieved_gflops": round(flops / seconds / 1e9, 1),
            "metrics_keys": sorted(metrics),
            **memory.as_dict(),
        }
    raise ValueError(f"--stage: expected one of {STAGES}, got {stage!r}")


def run(quick: bool = False, device: str = "cpu", datasets=DATASETS, stages=STAGES) -> dict:
    """Every (dataset, stage) in a fresh subprocess; returns the rows and a Markdown table."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="fsigenz-bench-") as tmp:
        for namespace in datasets:
            start = time.perf_counter()
            source = standins.write_standin(namespace, Path(tmp) / namespace, quick=quick)
            print(
                f"[stages] {namespace}: stand-in written in {time.perf_counter() - start:.1f} s", flush=True
            )
            for stage in stages:
                args = [
                    __file__,
                    "--worker",
                    "--dataset",
                    namespace,
                    "--stage",
                    stage,
                    "--source",
                    json.dumps(source),
                    "--device",
                    device,
                ] + (["--quick"] if quick else [])
                row = harness.run_json_subprocess(args)
                rows.append(row)
                print(
                    f"[stages] {namespace:<4} {stage:<16} {row['seconds']:9.3f} s   peak RSS "
                    f"{row['peak_rss_mb']:8.1f} MB (+{row['peak_increase_mb']:.1f})",
                    flush=True,
                )
    for row in rows:
        row["seconds"] = round(row["seconds"], 4)
        if row.get("extrapolated"):
            row["note"] = "extrapolated: " + row["extrapolated"]
    table = harness.print_table(
        rows,
        [
            ("dataset", "dataset"),
            ("stage", "stage"),
            ("seconds", "wall s"),
            ("peak_rss_mb", "peak RSS MB"),
            ("peak_increase_mb", "increase MB"),
            ("achieved_gflops", "GFLOP/s"),
            ("note", "note"),
        ],
    )
    sizes = {row["dataset"]: row["sizes"] for row in rows if row["stage"] == "ingestion"}
    sun_scoring = next((r for r in rows if r["dataset"] == "sun" and r["stage"] == "scoring"), None)
    return {
        "name": "stages",
        "device": device,
        "rows": rows,
        "sizes": sizes,
        "sun_scoring_peak_mb": None if sun_scoring is None else sun_scoring["peak_rss_mb"],
        "memory_method": rows[0]["memory_method"] if rows else None,
        "markdown": table,
    }


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="d = 64, h = 64 (smoke test)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument(
        "--output", type=Path, help="JSON file (default benchmarks/results/stages[_quick].json)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.dataset, args.stage, json.loads(args.source), args.quick, args.device)))
        return None
    result = harness.stamp(
        run(args.quick, args.device, args.datasets.split(","), args.stages.split(",")), args.quick
    )
    print(f"written to {harness.write_result('stages', result, args.output)}")
    return result


if __name__ == "__main__":
    main()
