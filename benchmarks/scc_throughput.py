"""SCC training-step throughput against a plain ``torch.matmul`` of the same size, in the same run.

The SCC's training step is bounded below by three GEMMs of the scorer's first layer (method notes,
"Cost of the SCC"): the forward (B·C × d)·(d × h) and the two backward products of the same size,
3 · 2·B·C·d·h FLOP. This benchmark times real :meth:`SemanticContrastiveClassifier.fit` steps (batch
gather, class encoder, scorer, grouped BCE, backward, Adam) and, between two steps (inside the
training monitor), those three GEMMs as plain ``torch.matmul`` calls on tensors of the same shapes:

    ratio = matmul time / SCC step time     (1.0: the step runs at GEMM speed; goal >= 0.7)

Both are timed alternately ``--steps`` times after warm-up; the best time of each gives the ratio
(``median_of_pairs`` is the median of the per-step ratios). ``matmul_out`` also reports the GEMMs
writing into preallocated outputs, the strictest reference. Everything the step does besides the
GEMMs (encoder, element-wise passes, loss, Adam) counts against the SCC.

On CPU the comparison is made with every core (``torch.set_num_threads(os.cpu_count())``) and with
one thread, which is far less sensitive to other processes on a shared machine, in fp32 and, where
the CPU has native bf16 (AVX-512 BF16 / AMX), in bf16 autocast. On CUDA (``--device cuda``) it runs in
bf16, with the training step replayed from a CUDA graph (the default, ``use_cuda_graph``) and run
eagerly kernel by kernel, side by side, and also reports the step's FLOP/s as a fraction of the
card's dense bf16 peak.

    python benchmarks/scc_throughput.py [--quick] [--device cuda] [--profile]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import harness

# (batch, classes, attributes, feature dim d, encoder hidden, scorer hidden h): the project's
# real-data settings on CUB and SUN (conf/base, parameters_datasets.yml: batch 64 on SUN).
SIZES = {
    "cub": dict(
        batch=128, n_classes=200, n_attributes=312, feature_dim=768, encoder_hidden=1024, hidden=1024
    ),
    "sun": dict(batch=64, n_classes=717, n_attributes=102, feature_dim=768, encoder_hidden=1024, hidden=1024),
    "quick": dict(batch=64, n_classes=50, n_attributes=32, feature_dim=128, encoder_hidden=128, hidden=128),
}
# A GPU needs larger batches to be busy: batch sizes tried on CUDA (each row still meets every class).
CUDA_BATCHES = {"cub": (128, 1024), "sun": (64, 512), "quick": (64,)}
WARMUP_STEPS = 2  # on CPU; on CUDA the graph's eager warm-up steps and its capture come first


def warmup_steps(device: str) -> int:
    from fsigenz.methods.scc import CUDA_GRAPH_WARMUP_STEPS

    return CUDA_GRAPH_WARMUP_STEPS + 2 if device.startswith("cuda") else WARMUP_STEPS


@dataclass(frozen=True)
class Case:
    size: str
    precision: str  # fp32 | bf16
    threads: int
    device: str
    batch: int
    cuda_graph: bool = False  # the training step replayed from a CUDA graph (CUDA only)


def _problem(case: Case, seed: int = 0):
    """Random rows, classes and BCE targets of the case's shape (values do not change the cost)."""
    import numpy as np

    from fsigenz.methods.similarity import build_target_tables, class_similarity

    size = SIZES[case.size]
    rng = np.random.default_rng(seed)
    n_classes = size["n_classes"]
    n_unseen = max(1, n_classes // 5)
    seen, unseen = np.arange(n_classes - n_unseen), np.arange(n_classes - n_unseen, n_classes)
    attributes = rng.random((size["n_attributes"], n_classes)).astype(np.float32)
    n_rows = 8 * case.batch
    classes = np.concatenate([rng.choice(seen, n_rows - n_unseen), unseen])
    is_prototype = np.isin(classes, unseen)
    features = rng.normal(size=(n_rows, size["feature_dim"])).astype(np.float32)
    targets = build_target_tables(class_similarity(attributes), seen, unseen)
    return features, classes, is_prototype, attributes, targets


def measure(case: Case, steps: int, profile: bool = False) -> dict:
    """Time ``steps`` SCC training steps and the same-size GEMMs alternately."""
    import torch

    from fsigenz.methods.scc import SemanticContrastiveClassifier

    torch.set_num_threads(case.threads)
    size = SIZES[case.size]
    batch, n_classes, d, h = case.batch, size["n_classes"], size["feature_dim"], size["hidden"]
    pairs = batch * n_classes
    dtype = torch.bfloat16 if case.precision == "bf16" else torch.float32
    torch.manual_seed(0)  # the values do not change the cost
    # The scorer's GEMM operands: pairs P (B·C × d), weight W (h × d), hidden gradient G (B·C × h).
    P = torch.randn(pairs, d, device=case.device, dtype=dtype)
    W = torch.randn(h, d, device=case.device, dtype=dtype)
    G = torch.randn(pairs, h, device=case.device, dtype=dtype)
    outputs = (
        torch.empty(pairs, h, dtype=dtype, device=case.device),
        torch.empty(h, d, dtype=dtype, device=case.device),
        torch.empty(pairs, d, dtype=dtype, device=case.device),
    )

    def matmul() -> None:
        torch.matmul(P, W.t())  # forward
        torch.matmul(G.t(), P)  # weight gradient
        torch.matmul(G, W)  # input gradient

    def matmul_out() -> None:
        torch.matmul(P, W.t(), out=outputs[0])
        torch.matmul(G.t(), P, out=outputs[1])
        torch.matmul(G, W, out=outputs[2])

    def timed(function) -> float:
        harness.synchronize(case.device)
        start = time.perf_counter()
        function()
        harness.synchronize(case.device)
        return time.perf_counter() - start

    warmup = warmup_steps(case.device)
    times: dict[str, list[float]] = {"step": [], "matmul": [], "matmul_out": []}
    left_monitor = [0.0]

    def monitor(step: int, _model) -> None:
        harness.synchronize(case.device)
        entered = time.perf_counter()
        if step > warmup:
            times["step"].append(entered - left_monitor[0])
        if step >= warmup:  # the references run between two steps, warm-up included
            for name, function in (("matmul", matmul), ("matmul_out", matmul_out)):
                seconds = timed(function)
                if step > warmup:
                    times[name].append(seconds)
        left_monitor[0] = time.perf_counter()

    model = SemanticContrastiveClassifier(
        encoder_hidden=size["encoder_hidden"],
        scorer_hidden=h,
        batch_size=batch,
        n_steps=warmup + steps,
        eval_every=1,
        device=case.device,
        use_bf16=case.precision == "bf16",
        use_cuda_graph=case.cuda_graph,
    )
    model.fit(*_problem(case), monitor=monitor)
    if profile:
        _profile(model, case)

    flop = 3 * 2.0 * pairs * d * h
    best = {name: min(values) for name, values in times.items()}
    result = {
        **asdict(case),
        **{k: size[k] for k in ("n_classes", "feature_dim", "hidden")},
        "pairs_per_step": pairs,
        "gemm_gflop_per_step": round(flop / 1e9, 3),
        "step": harness.summarise(times["step"]),
        "matmul": harness.summarise(times["matmul"]),
        "matmul_out": harness.summarise(times["matmul_out"]),
        "step_tflops": round(flop / best["step"] / 1e12, 4),
        "matmul_tflops": round(flop / best["matmul"] / 1e12, 4),
        "ratio": harness.paired_ratio(times["matmul"], times["step"]),
        "ratio_vs_matmul_out": harness.paired_ratio(times["matmul_out"], times["step"]),
    }
    if case.device.startswith("cuda"):
        peak = harness.bf16_peak_tflops(torch.cuda.get_device_name())
        result["bf16_peak_tflops"] = peak
        result["step_fraction_of_peak"] = None if not peak else round(result["step_tflops"] / peak, 4)
        result["matmul_fraction_of_peak"] = None if not peak else round(result["matmul_tflops"] / peak, 4)
    return result


def _profile(model, case: Case) -> None:
    """Print where two more training steps' time goes (torch.profiler, by operator and shape)."""
    import copy

    from torch.profiler import ProfilerActivity, profile

    cuda = case.device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    again = copy.copy(model)
    again.n_steps, again.eval_every = 2, 1
    problem = _problem(case)
    with profile(activities=activities, record_shapes=True) as profiler:
        again.fit(*problem)
    sort = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    print(profiler.key_averages(group_by_input_shape=True).table(sort_by=sort, row_limit=20), flush=True)


def cases(quick: bool, device: str) -> list[Case]:
    import torch

    sizes = ["quick"] if quick else ["cub", "sun"]
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device visible to torch")
        return [
            Case(s, "bf16", torch.get_num_threads(), device, b, graph)
            for s in sizes
            for b in CUDA_BATCHES[s]
            for graph in (True, False)
        ]
    all_cores = os.cpu_count() or 1
    precisions = ["fp32"] + (["bf16"] if torch.ops.mkldnn._is_mkldnn_bf16_supported() else [])
    result = []
    for s in sizes:
        for precision in precisions:
            threads = [all_cores] + ([1] if all_cores > 1 and s in ("cub", "quick") else [])
            result += [Case(s, precision, t, device, SIZES[s]["batch"]) for t in threads]
    return result


def run(quick: bool = False, device: str = "cpu", steps: int | None = None, profile: bool = False) -> dict:
    steps = steps or (3 if quick else 5)
    rows = []
    for case in cases(quick, device):
        row = measure(case, steps, profile)
        rows.append(row)
        print(
            f"[scc] {case.size:<5} {case.precision:<4} {case.device:<5} threads {case.threads:<3} batch "
            f"{case.batch:<5} {'graph ' if case.cuda_graph else ''}step {row['step']['best_s']:.4f} s "
            f"({row['step_tflops'] * 1000:.1f} GFLOP/s)  "
            f"matmul {row['matmul']['best_s']:.4f} s  ratio {row['ratio']['best']:.3f} "
            f"(median of pairs {row['ratio']['median_of_pairs']:.3f})",
            flush=True,
        )
    headline_size = "quick" if quick else "cub"

    def pick(precision: str, threads: int | None) -> dict | None:
        for row in rows:
            if (
                row["size"] == headline_size
                and row["precision"] == precision
                and (threads is None or row["threads"] == threads)
            ):
                return row
        return None

    table_rows = [
        {
            "case": f"{r['size']} {r['precision']} {r['device']} ×{r['threads']} B={r['batch']}"
            + (
                " CUDA graph" if r.get("cuda_graph") else (" eager" if r["device"].startswith("cuda") else "")
            ),
            "step_ms": r["step"]["best_s"] * 1e3,
            "matmul_ms": r["matmul"]["best_s"] * 1e3,
            "step_gflops": r["step_tflops"] * 1e3,
            "ratio": r["ratio"]["best"],
            "median": r["ratio"]["median_of_pairs"],
            "ratio_out": r["ratio_vs_matmul_out"]["best"],
            "peak": r.get("step_fraction_of_peak"),
        }
        for r in rows
    ]
    table = harness.print_table(
        table_rows,
        [
            ("case", "case (size, precision, device, threads, batch)"),
            ("step_ms", "SCC step ms"),
            ("matmul_ms", "matmul ms"),
            ("step_gflops", "step GFLOP/s"),
            ("ratio", "ratio (best)"),
            ("median", "ratio (median of pairs)"),
            ("ratio_out", "ratio vs matmul(out=)"),
            ("peak", "fraction of bf16 peak"),
        ],
    )
    all_cores = os.cpu_count() or 1
    if device.startswith("cuda"):
        cuda_rows = [r for r in rows if r["size"] == headline_size]
        best_cuda = max(cuda_rows, key=lambda r: r["step_tflops"]) if cuda_rows else None
        # the project's training batch (SIZES), replayed from a CUDA graph as `fit` does by default
        training = next(
            (r for r in cuda_rows if r["batch"] == SIZES[headline_size]["batch"] and r.get("cuda_graph")),
            None,
        )
        headline = {
            "scc_step_vs_matmul_cuda_bf16": best_cuda and best_cuda["ratio"]["best"],
            "scc_step_fraction_of_bf16_peak": best_cuda and best_cuda.get("step_fraction_of_peak"),
            "scc_step_vs_matmul_cuda_bf16_training_batch": training and training["ratio"]["best"],
            "scc_step_fraction_of_bf16_peak_training_batch": training
            and training.get("step_fraction_of_peak"),
        }
    else:
        fp32, bf16 = pick("fp32", all_cores), pick("bf16", all_cores)
        fp32_one = pick("fp32", 1)
        headline = {
            "scc_step_vs_matmul": fp32 and fp32["ratio"]["best"],
            "scc_step_vs_matmul_bf16": bf16 and bf16["ratio"]["best"],
            "scc_step_vs_matmul_one_thread": fp32_one and fp32_one["ratio"]["best"],
        }
    return {
        "name": "scc_throughput",
        "device": device,
        "steps": steps,
        "warmup_steps": warmup_steps(device),
        "rows": rows,
        **headline,
        "markdown": table,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small size (smoke test)")
    parser.add_argument(
        "--device", default="cpu", help="cpu | cuda (bf16, with the fraction of the card's peak)"
    )
    parser.add_argument("--steps", type=int, help="timed steps per case (default 5; 3 with --quick)")
    parser.add_argument("--profile", action="store_true", help="print a torch.profiler table per case")
    parser.add_argument(
        "--output", type=Path, help="JSON file (default benchmarks/results/scc_throughput[_quick].json)"
    )
    args = parser.parse_args(argv)
    result = harness.stamp(run(args.quick, args.device, args.steps, args.profile), args.quick)
    print(f"written to {harness.write_result('scc_throughput', result, args.output)}")
    return result


if __name__ == "__main__":
    main()
