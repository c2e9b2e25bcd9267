"""Latency and throughput of the served model: in-process ``pyfunc`` predict against ``mlflow models serve``.

For a logged model (``runs:/<run_id>/model``), at batch 1 and batch 1000 (feature rows):

- in-process: ``mlflow.pyfunc.load_model(uri).predict(table)``;
- over HTTP: ``mlflow models serve --env-manager local`` on 127.0.0.1, one keep-alive client posting
  ``dataframe_split`` JSON (the body is encoded once, before timing);

the two in turn, request by request (on a shared machine both series then see the same load).
p50 / p95 per request in ms and rows/s (batch / p50), the ratio HTTP / in-process of the p50s and the
median of the per-pair ratios at each batch, and the lines the server wrote per request (its log,
after a warm-up request).

    MLFLOW_TRACKING_URI=sqlite:///mlflow.db python benchmarks/serving_latency.py \
        --model-uri runs:/<run_id>/model --output benchmarks/results/serving_latency.json

Run it from the project directory whose ``mlflow.db`` holds the run (``kedro run`` logs the model).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

import harness

BATCHES = (1, 1000)
SERVER_START_SECONDS = 900


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def summary(seconds: list[float], batch: int) -> dict:
    p50, p95 = np.percentile(seconds, [50, 95])
    return {
        "batch": batch,
        "requests": len(seconds),
        "p50_ms": 1000 * p50,
        "p95_ms": 1000 * p95,
        "rows_per_s": batch / p50,
    }


def timed(call, repeats: int) -> list[float]:
    call()  # warm-up
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def start_server(model_uri: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    """``mlflow models serve`` on a free loopback port, in its own process group (stopped on any failure)."""
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited: {log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/ping", timeout=5).status_code == 200:
                    return process, url
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server did not answer /ping within {SERVER_START_SECONDS} s")
    except BaseException:
        stop_server(process)
        raise


def stop_server(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=15)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--repeats-single", type=int, default=200, help="requests at batch 1")
    parser.add_argument("--repeats-batch", type=int, default=20, help="requests at batch 1000")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    import mlflow

    from fsigenz.serving import feature_table

    model = mlflow.pyfunc.load_model(args.model_uri)
    feature_dim = model.metadata.metadata["input_contract"]["feature_dim"]
    rng = np.random.default_rng(0)
    tables = {batch: feature_table(rng.normal(size=(batch, feature_dim))) for batch in BATCHES}
    repeats = {1: args.repeats_single, 1000: args.repeats_batch}
    results = {"machine": harness.machine_info(), "model_uri": args.model_uri, "load_before": os.getloadavg()}

    with tempfile.TemporaryDirectory() as directory:
        log_path = Path(directory) / "serve.log"
        process, url = start_server(args.model_uri, log_path)
        try:
            session = requests.Session()
            bodies = {
                b: json.dumps({"dataframe_split": tables[b].to_dict(orient="split")}).encode()
                for b in BATCHES
            }

            def post(batch: int) -> None:
                response = session.post(
                    f"{url}/invocations", data=bodies[batch], headers={"Content-Type": "application/json"}
                )
                response.raise_for_status()

            post(1)
            time.sleep(0.5)
            lines_before = log_path.read_text().count("\n")
            timings = {}
            for batch in BATCHES:  # in turn (in-process, HTTP, in-process, …): both see the same load
                timings[batch] = harness.alternate(
                    {"in_process": lambda b=batch: model.predict(tables[b]), "http": lambda b=batch: post(b)},
                    repeats[batch],
                )
            time.sleep(0.5)
            n_requests = sum(repeats[b] + 1 for b in BATCHES)  # one warm-up each
            results["log_lines_per_request"] = (log_path.read_text().count("\n") - lines_before) / n_requests
            results["log_sample"] = log_path.read_text().splitlines()[-2:]
        finally:
            stop_server(process)
    results["in_process"] = [summary(timings[b]["in_process"], b) for b in BATCHES]
    results["http"] = [summary(timings[b]["http"], b) for b in BATCHES]
    results["http_over_in_process_paired"] = {
        str(b): harness.paired_ratio(timings[b]["http"], timings[b]["in_process"]) for b in BATCHES
    }
    results["http_over_in_process_p50"] = {
        str(h["batch"]): h["p50_ms"] / i["p50_ms"]
        for h, i in zip(results["http"], results["in_process"], strict=True)
    }
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))
    print("\n| path | batch | p50 ms | p95 ms | rows/s |\n|---|---:|---:|---:|---:|")
    for path in ("in_process", "http"):
        for row in results[path]:
            print(
                f"| {path} | {row['batch']} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | "
                f"{row['rows_per_s']:.0f} |"
            )
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
