"""Shared helpers of the benchmark suite: machine description, robust timing, peak memory, results.

Timing on a shared machine is noisy, so every benchmark that compares two things measures them
alternately in one process and reports the best (least disturbed) time of each and the median of the
paired ratios; the load average before and after is recorded with the results.

Peak memory is the process's peak resident set (``VmHWM`` of ``/proc/self/status``) while a stage
runs: the high-water mark is reset when the stage starts (``/proc/self/clear_refs`` ← 5), so it counts
every allocation of the stage (NumPy, torch CPU tensors, BLAS workspaces) and nothing before it. Where
the reset is not available the stage still runs in a fresh subprocess, and ``ru_maxrss`` (the
process's lifetime peak) is reported instead; the ``memory_method`` field says which.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
PROJECT_ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

if str(PROJECT_ROOT / "src") not in sys.path:  # runnable from a checkout without `pip install -e .`
    sys.path.insert(0, str(PROJECT_ROOT / "src"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from the vendors' data sheets; the GPU
# result is reported as a fraction of the entry whose key is found in the device name.
BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 80GB HBM3": 989.0,  # the SXM5 card's device name
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,  # unknown H100 variant: the lowest (PCIe)
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "A10G": 70.0,
    "A10": 125.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "RTX 4090": 165.0,
    "RTX 3090": 71.0,
    "A6000": 155.0,
    "V100": None,  # no bf16 tensor cores
    "T4": None,
}


# ------------------------------------------------------------------ machine
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def physical_cores() -> int | None:
    """Distinct (physical id, core id) pairs of /proc/cpuinfo, or None where unreadable."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    cores = set(re.findall(r"physical id\s*:\s*(\d+)[\s\S]*?core id\s*:\s*(\d+)", text))
    return len(cores) or None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, torch version and threads, bf16 support, CUDA device; for every result."""
    import torch

    flags = cpu_flags()
    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "avx512f": "avx512f" in flags,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "mkldnn_bf16": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "cuda_device": None,
        "load_average": load_average(),
        # OpenMP settings change multi-threaded timings on a shared machine (docs/benchmarks.md)
        "omp_environment": {
            k: os.environ[k]
            for k in (
                "OMP_NUM_THREADS",
                "OMP_WAIT_POLICY",
                "GOMP_SPINCOUNT",
                "KMP_BLOCKTIME",
                "THP_MEM_ALLOC_ENABLE",
            )
            if k in os.environ
        },
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name()
        info["cuda_version"] = torch.version.cuda
        info["cuda_bf16_peak_tflops"] = bf16_peak_tflops(info["cuda_device"])
    return info


def bf16_peak_tflops(device_name: str) -> float | None:
    """Dense bf16 peak of a known card (longest matching key), else None."""
    matches = [key for key in BF16_PEAK_TFLOPS if key.lower() in device_name.lower()]
    return BF16_PEAK_TFLOPS[max(matches, key=len)] if matches else None


def use_all_cores() -> int:
    """Set torch's intra-op threads to every CPU core; returns the count."""
    import torch

    n_threads = os.cpu_count() or 1
    torch.set_num_threads(n_threads)
    return n_threads


# ------------------------------------------------------------------ timing
def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def alternate(
    candidates: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1, device: str = "cpu"
) -> dict[str, list[float]]:
    """Wall seconds of each candidate, measured in turn (A B A B ...) ``repeats`` times."""
    for function in candidates.values():
        for _ in range(warmup):
            function()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            synchronize(device)
            start = time.perf_counter()
            function()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def summarise(times: list[float]) -> dict[str, float]:
    return {
        "best_s": round(min(times), 6),
        "median_s": round(statistics.median(times), 6),
        "repeats": len(times),
    }


def paired_ratio(numerator: list[float], denominator: list[float]) -> dict[str, float]:
    """Best-of ratio min(num)/min(den) and the median of the per-repeat ratios."""
    pairs = [n / d for n, d in zip(numerator, denominator, strict=True)]
    return {
        "best": round(min(numerator) / min(denominator), 4),
        "median_of_pairs": round(statistics.median(pairs), 4),
    }


# ------------------------------------------------------------------ memory
def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak resident memory while the ``with`` block runs (see the module docstring); on a CUDA
    ``device`` also ``torch.cuda.max_memory_allocated()`` over the block."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def __enter__(self) -> PeakMemory:
        import gc

        import torch  # before the reset: importing torch alone takes ~0.5 GB

        self._cuda = self.device.startswith("cuda") and torch.cuda.is_available()
        if self._cuda:
            torch.cuda.init()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        gc.collect()
        self.method = "rss_high_water_mark_reset"
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.method = "ru_maxrss_lifetime"
        self.start_rss_mb = (_status_kb("VmRSS") or 0) / 1024
        return self

    def __exit__(self, *exc_info: object) -> None:
        import resource

        if self.method == "rss_high_water_mark_reset":
            peak_kb = _status_kb("VmHWM") or 0
        else:
            peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak_rss_mb = peak_kb / 1024
        self.cuda_peak_mb = None
        if self._cuda:
            import torch

            torch.cuda.synchronize()
            self.cuda_peak_mb = torch.cuda.max_memory_allocated() / 2**20

    def as_dict(self) -> dict[str, Any]:
        return {
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "rss_at_start_mb": round(self.start_rss_mb, 1),
            "peak_increase_mb": round(self.peak_rss_mb - self.start_rss_mb, 1),
            "cuda_peak_allocated_mb": None if self.cuda_peak_mb is None else round(self.cuda_peak_mb, 1),
            "memory_method": self.method,
        }


# ------------------------------------------------------------------ subprocesses and results
def run_json_subprocess(args: list[str], timeout: float | None = None) -> dict[str, Any]:
    """Run ``python <args>`` and parse the last stdout line, which the worker prints as JSON."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROJECT_ROOT / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    completed = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=PROJECT_ROOT
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"benchmark worker {' '.join(args)} failed (exit {completed.returncode}):\n"
            f"{completed.stderr[-4000:]}"
        )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


def stamp(result: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Add the date, mode and machine to a benchmark's result."""
    return {
        **result,
        "quick": quick,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine_info(),
    }


def write_result(name: str, result: dict[str, Any], output: Path | None = None) -> Path:
    """Write one benchmark's result as JSON (default: benchmarks/results/<name>[_quick].json)."""
    path = output or RESULTS / f"{name}{'_quick' if result.get('quick') else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def print_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A Markdown table of ``rows`` with (key, header) ``columns``; returned and printed."""

    def cell(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(k)) for k, _ in columns) + " |" for row in rows]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


# ------------------------------------------------------------------ project configuration
def project_parameters() -> dict[str, Any]:
    """conf/base/parameters_*.yml merged key by key at every depth (a namespace such as ``sun`` has
    its ``source`` in one file and its per-dataset defaults in another). conf/local is left out, so
    that the figures do not depend on one machine's local settings."""
    import yaml

    from fsigenz.methods.registry import deep_merge

    parameters: dict[str, Any] = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("parameters_*.yml")):
        parameters = deep_merge(parameters, yaml.safe_load(path.read_text()) or {})
    return parameters


def method_configuration(method: str, namespace: str, extra_overrides: dict | None = None):
    """The :class:`~fsigenz.configuration.RunConfiguration` a ``kedro run`` of ``namespace`` would use
    with ``--params`` setting ``<namespace>.model.method=<method>`` and ``extra_overrides`` (blocks such
    as ``{"fsigenz": {"scc": {...}}}``) for that namespace."""
    from fsigenz.configuration import CONFIGURABLE_BLOCKS, resolve_run_configuration
    from fsigenz.methods.registry import deep_merge

    parameters = project_parameters()
    command_line = {namespace: deep_merge({"model": {"method": method}}, extra_overrides)}
    global_blocks = {name: parameters.get(name) or {} for name in CONFIGURABLE_BLOCKS}
    return resolve_run_configuration(namespace, global_blocks, parameters.get(namespace) or {}, command_line)


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()
