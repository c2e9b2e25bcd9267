"""The benchmark suite's bookkeeping: which settings it runs FSIGenZ with, how goals are judged, what
a GPU result is compared with. (The measurements themselves are run by `make benchmark`, not here.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import choose_fsigenz_settings  # noqa: E402
import harness  # noqa: E402
import run_all  # noqa: E402
import scc_throughput  # noqa: E402


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_fsigenz_runs_with_the_best_trial_of_its_devices_search(device):
    overrides, source = choose_fsigenz_settings.chosen_overrides(device)
    expected = choose_fsigenz_settings.search_result_path(device)
    assert source == (expected if expected.is_file() else choose_fsigenz_settings.search_result_path("cpu"))
    search = json.loads(source.read_text())
    assert search["name"] == "fsigenz_settings_search"
    for dotted, value in search["best"]["setting"].items():
        block, name = dotted.split(".")
        assert overrides[block][name] == value, dotted
    assert overrides["scc"]["n_steps"] == choose_fsigenz_settings.N_STEPS_BOUND
    # the best trial is the one with the highest validation H of all recorded trials
    best = max(t["validation_h_calibrated"] for t in search["trials"])
    assert search["best"]["validation_h_calibrated"] == best


def test_speedup_goal_needs_equal_or_better_h():
    def goals(speedup, fsigenz_h, generative_h):
        versus = {"fsigenz_vs_generative_speedup": speedup, "fsigenz": {"h_calibrated": fsigenz_h},
                  "generative": {"h_calibrated": generative_h}}
        return run_all.headline({"fsigenz_vs_generative": versus})["goals"]["fsigenz_vs_generative_speedup >= 10"]

    assert goals(15.5, 60.0, 67.9) is False  # fast enough, less accurate
    assert goals(15.5, 68.0, 67.9) is True
    assert goals(9.0, 70.0, 67.9) is False
    assert run_all.headline({})["goals"]["fsigenz_vs_generative_speedup >= 10"] is None  # not measured


def test_gpu_results_are_compared_with_the_cards_bf16_peak():
    assert harness.bf16_peak_tflops("NVIDIA H200") == 989.0
    assert harness.bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert harness.bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert harness.bf16_peak_tflops("Some Future Card") is None


def test_cuda_timing_starts_after_the_graph_is_captured():
    from fsigenz.methods.scc import CUDA_GRAPH_WARMUP_STEPS

    # eager warm-up steps, then the capture step, must all fall before the first timed step
    assert scc_throughput.warmup_steps("cuda") > CUDA_GRAPH_WARMUP_STEPS
    assert scc_throughput.warmup_steps("cpu") == scc_throughput.WARMUP_STEPS
