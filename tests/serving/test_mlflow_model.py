"""The MLflow model that ``kedro run`` logs: loaded with pyfunc and served by ``mlflow models serve``.

One tiny training run in a scratch project; its predictions are compared with the evaluation of that
same run, then with what the server answers on loopback.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fsigenz.evaluation.metrics import gzsl_predictions
from fsigenz.protocol import final_protocol
from fsigenz.serving import feature_table
from tests.pipelines.test_kedro_runs import kedro, make_project, tiny_params

pytestmark = pytest.mark.slow

MLFLOW = str(Path(sys.executable).with_name("mlflow"))
SERVER_START_SECONDS = 120
SERVED_ROWS = 12


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The scratch project after a default ``kedro run``, its dataset and the logged model's identity."""
    import mlflow

    project = make_project(tmp_path_factory.mktemp("serving_project"))
    result = kedro(project, "run", f"--params={tiny_params('synthetic')}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("fsigenz")
    models = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    assert [m.name for m in models] == ["model"]
    with open(project / "data/02_intermediate/synthetic/dataset.pkl", "rb") as file:
        dataset = pickle.load(file)
    return project, dataset, models[0]


@pytest.fixture(scope="module")
def pyfunc_model(trained):
    import mlflow

    _, _, logged = trained
    return mlflow.pyfunc.load_model(logged.artifact_location)


def class_accuracy(predicted: pd.Series, labels: np.ndarray, class_names) -> float:
    """Per-class mean top-1 accuracy in %, as the evaluation computes it."""
    truth = np.asarray(class_names, dtype=object)[labels]
    return 100.0 * float(np.mean([np.mean(predicted.to_numpy()[truth == c] == c) for c in np.unique(truth)]))


def test_pyfunc_predictions_match_the_runs_evaluation(trained, pyfunc_model):
    project, dataset, _ = trained
    metrics = json.loads((project / "data/08_reporting/synthetic/metrics.json").read_text())
    with open(project / "data/06_models/synthetic/trained_model.pkl", "rb") as file:
        trained_model = pickle.load(file)
    protocol = final_protocol(dataset)
    names = np.asarray(dataset.class_names, dtype=object)
    for calibrated, suffix in ((True, "_cs"), (False, "")):
        gamma = trained_model.calibration_gamma if calibrated else 0.0
        for split, features, labels in (
            ("unseen", protocol.unseen_features, protocol.unseen_labels),
            ("seen", protocol.seen_features, protocol.seen_labels),
        ):
            predictions = pyfunc_model.predict(feature_table(features), params={"inference.calibrated": calibrated})
            # row by row: the evaluation's own argmax over the same scores
            scores = trained_model.estimator.decision_function(features)
            expected = names[gzsl_predictions(scores, protocol.task.seen_mask, gamma)]
            np.testing.assert_array_equal(predictions["predicted_class"].to_numpy(), expected)
            # and the metric the run reported
            accuracy = class_accuracy(predictions["predicted_class"], labels, dataset.class_names)
            assert accuracy == pytest.approx(metrics[f"gzsl_{split}{suffix}"], abs=1e-3)


def test_added_class_is_scored_like_a_trained_class_with_the_same_attributes(trained, pyfunc_model):
    _, dataset, _ = trained
    unseen = int(dataset.unseen_classes[0])
    original = dataset.class_names[unseen]
    columns = [f"attribute_{i}" for i in range(dataset.attribute_dim)]
    new_classes = pd.DataFrame([dataset.class_attributes[:, unseen]], columns=columns)
    new_classes.insert(0, "class", ["twin"])
    rows = dataset.splits["test_unseen"][:20]
    predictions = pyfunc_model.predict(
        feature_table(dataset.features[rows]),
        params={"inference.new_classes": new_classes.to_csv(index=False), "inference.top_k": dataset.n_classes + 1},
    )
    for classes, scores in zip(predictions["top_k_classes"], predictions["top_k_scores"]):
        score_of = dict(zip(classes, scores))
        assert len(score_of) == dataset.n_classes + 1  # trained classes plus the added one
        assert score_of["twin"] == pytest.approx(score_of[original], abs=1e-5)  # same MSAS, same γ treatment

    bad = new_classes.copy()
    bad.loc[0, "attribute_3"] = np.nan
    with pytest.raises(Exception, match=r"params 'inference.new_classes': row 1 \(class 'twin'\), column 'attribute_3': NaN"):
        pyfunc_model.predict(feature_table(dataset.features[rows]), params={"inference.new_classes": bad.to_csv(index=False)})


def test_image_paths_are_refused_saying_the_model_has_no_backbone(pyfunc_model):
    with pytest.raises(Exception, match=r"column 'image_path': this model cannot read images, it has no image "
                                        r"backbone: its training features come from the 'synthetic' source"):
        pyfunc_model.predict(pd.DataFrame({"image_path": ["/images/okapi.jpg"]}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, body: dict | None = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def server(trained):
    """``mlflow models serve`` on loopback, in its own process group (killed with it afterwards)."""
    project, _, logged = trained
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
        "KEDRO_DISABLE_TELEMETRY": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow runs `uvicorn`
    }
    command = [MLFLOW, "models", "serve", "-m", f"runs:/{logged.source_run_id}/model",
               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    log = open(project / "serve.log", "w")
    process = subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert process.poll() is None, (project / "serve.log").read_text()[-3000:]
            try:
                if request(f"http://127.0.0.1:{port}/ping")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "server did not answer /ping:\n" + (project / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process)
        log.close()


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group (mlflow and its uvicorn child), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


def test_served_model_answers_invocations_like_the_pyfunc_model(trained, pyfunc_model, server):
    _, dataset, _ = trained
    rows = np.concatenate([dataset.splits["test_unseen"][: SERVED_ROWS // 2], dataset.splits["test_seen"][: SERVED_ROWS // 2]])
    table = feature_table(dataset.features[rows])
    body = {"dataframe_split": table.to_dict(orient="split"), "params": {"inference.top_k": 3}}
    status, text = request(f"{server}/invocations", body)
    assert status == 200, text
    served = pd.DataFrame(json.loads(text)["predictions"])
    local = pyfunc_model.predict(table, params={"inference.top_k": 3})
    assert served["predicted_class"].tolist() == local["predicted_class"].tolist()
    np.testing.assert_allclose(served["score"], local["score"], rtol=1e-5, atol=1e-6)
    assert served["top_k_classes"].tolist() == local["top_k_classes"].tolist()

    body["dataframe_split"]["columns"][0] = "pixel_0"  # not the model's input schema
    status, text = request(f"{server}/invocations", body)
    assert status == 400 and "feature_0" in text

    # image paths pass the input schema and reach the model, which has no backbone to embed them
    images = {"dataframe_split": {"columns": ["image_path"], "data": [["/images/okapi.jpg"]]}}
    status, text = request(f"{server}/invocations", images)
    assert status == 400 and "it has no image backbone" in text
