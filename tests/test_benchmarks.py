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
import run_all  # noqa: E402
import scc_throughput  # noqa: E402

import harness  # noqa: E402


def _write_search(path: Path, best: dict) -> None:
    path.write_text(json.dumps({"name": "fsigenz_settings_search", "best": {"setting": best}, "trials": []}))


def test_fsigenz_runs_with_the_best_trial_of_its_devices_search(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    _write_search(tmp_path / "fsigenz_settings_search.json", {"scc.beta": 0.3, "prototypes.n_prototypes": 7})
    # no CUDA search yet: CUDA runs with the CPU search's best trial
    overrides, source = choose_fsigenz_settings.chosen_overrides("cuda")
    assert source == tmp_path / "fsigenz_settings_search.json"
    assert overrides == {
        "scc": {"n_steps": choose_fsigenz_settings.N_STEPS_BOUND, "beta": 0.3},
        "prototypes": {"n_prototypes": 7},
    }
    # once there is one, its own
    _write_search(tmp_path / "fsigenz_settings_search_cuda.json", {"scc.beta": 0.6})
    overrides, source = choose_fsigenz_settings.chosen_overrides("cuda")
    assert source.name == "fsigenz_settings_search_cuda.json" and overrides["scc"]["beta"] == 0.6
    assert choose_fsigenz_settings.chosen_overrides("cpu")[0]["scc"]["beta"] == 0.3


def test_benchmark_configuration_is_the_kedro_runs():
    # what the benchmarks run is the namespace's resolved configuration, with their own settings on top
    configuration = harness.method_configuration("fsigenz", "synthetic", {"fsigenz": {"scc": {"beta": 0.45}}})
    assert configuration.method == "fsigenz" and configuration.settings["scc"]["beta"] == 0.45
    per_dataset = harness.project_parameters()["synthetic"]["fsigenz"]["scc"]
    assert configuration.settings["scc"]["encoder_hidden"] == per_dataset["encoder_hidden"]  # synthetic's own
    assert harness.method_configuration("ncm", "synthetic").prototype_method == "ncm"


def test_speedup_goal_needs_equal_or_better_h():
    def goals(speedup, fsigenz_h, generative_h):
        versus = {
            "fsigenz_vs_generative_speedup": speedup,
            "fsigenz": {"h_calibrated": fsigenz_h},
            "generative": {"h_calibrated": generative_h},
        }
        return run_all.headline({"fsigenz_vs_generative": versus})["goals"][
            "fsigenz_vs_generative_speedup >= 10"
        ]

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


def test_end_to_end_benchmark_calls_the_pipelines_nodes_as_they_are():
    """fsigenz_vs_generative runs the Kedro nodes in process: a tiny run of each kind of method keeps
    it in step with their signatures (it is not otherwise run by the test suite)."""
    import fsigenz_vs_generative

    from fsigenz.data.synthetic import make_synthetic_benchmark

    dataset = make_synthetic_benchmark(**{**fsigenz_vs_generative.QUICK_DATASET, "images_per_class": 12})
    tiny = {"fsigenz": {"scc": {"n_steps": 20, "eval_every": 10}}}
    for method, overrides in (("fsigenz", tiny), ("ncm", {})):
        result = fsigenz_vs_generative.run_method(dataset, method, overrides)
        assert result["method"] == method and 0.0 <= result["h_calibrated"] <= 100.0
        assert result["seconds"] == pytest.approx(sum(result["seconds_by_node"].values()), abs=0.01)
