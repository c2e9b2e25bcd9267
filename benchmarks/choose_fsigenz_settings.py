"""Choose FSIGenZ's settings for the fsigenz_vs_generative data set on validation, as the generative
baseline's budget is chosen there: an Optuna search whose objective is the validation GZSL H with the
calibrated-stacking γ (``gzsl_h_cs``), scored by the project's tuning code
(:func:`fsigenz.experiments.tuning.validation_score`: the validation protocol ``kedro run`` selects
on, early stopping as configured). The test split is never looked at.

    python benchmarks/choose_fsigenz_settings.py [--trials 30]      # about 5 minutes on 2 cores (bf16)
    python benchmarks/choose_fsigenz_settings.py --device cuda --trials 150 --timeout-s 170   # a GPU: < 3 min

Search: TPE (seed 0), the project's synthetic settings as the first trial (and with MSAS off as the
second), then

    scc.encoder_hidden = scc.scorer_hidden ∈ {128, 256, 512}    msas.enabled ∈ {true, false}
    prototypes.n_prototypes ∈ [5, 60] (log)                      scc.learning_rate ∈ [3e-4, 1e-2] (log)
    scc.beta ∈ [0.05, 0.6] (log)                                 scc.batch_size ∈ {32, 64, 128}
    scc.n_steps = 2000 (an upper bound: the length is early-stopped on validation)

Trials run with ``scc.use_bf16`` where the CPU has native bf16 (for speed; float32 elsewhere), so the
values, and possibly the winner, differ on machines without it. Every trial is written to
``benchmarks/results/fsigenz_settings_search.json``; its best trial's settings are what
``fsigenz_vs_generative`` runs FSIGenZ with on CPU. With ``--device cuda`` the trials run on the GPU in
float32 (the precision of the benchmark's headline; on a GPU bf16 is no faster at these sizes) and go
to ``fsigenz_settings_search_cuda.json``, which ``fsigenz_vs_generative --device cuda`` uses: a
training run costs about a second there, so the search can afford more trials.

Measured here (2026-11-29, 30 trials, bf16): best validation H 60.2 (hidden 256, MSAS off, 20
prototypes per class, lr 3.5e-3, β 0.103, batch 64), against 52.4 for the configured settings and 58.5
for the generative baseline's chosen budget; its test H is 64.8 (float32) / 63.6 (bf16), below the
baseline's 68.0. MSAS off won throughout on this synthetic data (its attributes carry no
"model-specific" salience for MSAS to find).

Validation H is a noisy guide here (25 validation classes). An earlier run of the same search, whose
trials were drawn in the same order but under other parameter names, took another path after the 10
random start-up trials and chose hidden 256, 7 prototypes, lr 9.0e-4, β 0.147, batch 32: validation
H 61.7, test H 69.8 (float32) / 68.5 (bf16). A search restricted to cheaper networks reached validation
H 64.0 with test H between 18 and 62, moving by tens of points between float32 and bf16 (the γ chosen
on validation did not transfer). The benchmark uses what this script chooses.

On an NVIDIA H200 (2026-11-29, ``--device cuda --trials 150 --timeout-s 170``, float32, about 0.6 s a
trial): best validation H 61.7 (hidden 512, MSAS off, 15 prototypes per class, lr 6.3e-3, β 0.072,
batch 32); its test H on the GPU is 60.0, below the 62.9 of the CPU search's setting on the same GPU.
More trials found a better validation score, not a better test score.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import harness

# The project's search-space format (fsigenz.experiments.tuning), keys relative to the fsigenz block.
# scc.scorer_hidden follows scc.encoder_hidden (one "hidden" size per trial).
SEARCH_SPACE = {
    "scc.encoder_hidden": {"type": "categorical", "choices": [128, 256, 512]},
    "msas.enabled": {"type": "categorical", "choices": [True, False]},
    "prototypes.n_prototypes": {"type": "int", "low": 5, "high": 60, "log": True},
    "scc.learning_rate": {"type": "float", "low": 3e-4, "high": 1e-2, "log": True},
    "scc.beta": {"type": "float", "low": 0.05, "high": 0.6, "log": True},
    "scc.batch_size": {"type": "categorical", "choices": [32, 64, 128]},
}
TIED = {"scc.scorer_hidden": "scc.encoder_hidden"}
N_STEPS_BOUND = 2000
CONFIGURED = {
    "scc.encoder_hidden": 256,
    "msas.enabled": True,
    "prototypes.n_prototypes": 20,
    "scc.learning_rate": 1e-3,
    "scc.beta": 0.2,
    "scc.batch_size": 64,
}
OBJECTIVE = "gzsl_h_cs"  # validation H with γ; early stopping inside follows model.selection.metric


def search_result_path(device: str) -> Path:
    """Where the search for ``device`` writes its trials (and ``fsigenz_vs_generative`` reads them)."""
    suffix = "_cuda" if device.startswith("cuda") else ""
    return harness.RESULTS / f"fsigenz_settings_search{suffix}.json"


def chosen_overrides(device: str) -> tuple[dict, Path]:
    """The best trial of ``device``'s search (the CPU search where no CUDA search was run) as FSIGenZ
    overrides, with the file it came from."""
    path = search_result_path(device)
    if not path.is_file():
        path = search_result_path("cpu")
    from fsigenz.experiments.tuning import apply_setting

    best = json.loads(path.read_text())["best"]["setting"]
    return apply_setting({"scc": {"n_steps": N_STEPS_BOUND}}, best), path


def search(n_trials: int, device: str = "cpu", timeout_s: float | None = None) -> dict:
    import optuna
    import torch
    from fsigenz_vs_generative import DATASET

    from fsigenz.data.synthetic import make_synthetic_benchmark
    from fsigenz.device import bf16_supported
    from fsigenz.experiments.tuning import parse_search_space, suggest_setting, validation_score

    harness.use_all_cores()
    use_bf16 = device == "cpu" and bf16_supported(torch.device("cpu"))
    dataset = make_synthetic_benchmark(**DATASET)
    configuration = harness.method_configuration(
        "fsigenz",
        "synthetic",
        {"fsigenz": {"scc": {"n_steps": N_STEPS_BOUND, "use_bf16": use_bf16, "device": device}}},
    )
    dimensions = parse_search_space(SEARCH_SPACE)
    trials = []

    def objective(trial) -> float:
        setting = suggest_setting(trial, dimensions)
        setting.update({tied: setting[leader] for tied, leader in TIED.items()})
        started = time.perf_counter()
        result = validation_score(dataset, configuration, setting)
        metrics = result.validation_metrics
        trials.append(
            {
                "setting": setting,
                "validation_h_calibrated": metrics["gzsl_h_cs"],
                "validation_h": metrics["gzsl_h"],
                "best_step": result.best_step,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
        print(
            f"[choose_fsigenz_settings] trial {trial.number}: "
            f"validation H {metrics[OBJECTIVE]:.1f} {setting}",
            flush=True,
        )
        return metrics[OBJECTIVE]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.enqueue_trial(CONFIGURED)
    study.enqueue_trial({**CONFIGURED, "msas.enabled": False})
    study.optimize(
        objective, n_trials=n_trials, timeout=timeout_s
    )  # stops after the trial running at timeout_s
    best = max(trials, key=lambda t: t["validation_h_calibrated"])
    return {
        "name": "fsigenz_settings_search",
        "device": device,
        "use_bf16": use_bf16,
        "n_trials": len(trials),
        "dataset": DATASET,
        "search_space": SEARCH_SPACE,
        "best": best,
        "trials": trials,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--timeout-s", type=float, help="start no trial after this many seconds")
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON file (default benchmarks/results/fsigenz_settings_search[_cuda].json)",
    )
    args = parser.parse_args(argv)
    result = harness.stamp(search(args.trials, args.device, args.timeout_s), False)
    path = harness.write_result(
        "fsigenz_settings_search", result, args.output or search_result_path(args.device)
    )
    print(json.dumps(result["best"], indent=2))
    print(f"written to {path}")
    return result


if __name__ == "__main__":
    main()
