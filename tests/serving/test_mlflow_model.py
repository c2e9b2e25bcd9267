"""The MLflow model that ``kedro run`` logs: loaded with pyfunc and served by ``mlflow models serve``.

One tiny training run in a scratch project; its predictions are compared with the evaluation of that
same run, then with what the server answers on loopback, where requests the model cannot score get a
400 whose top-level message is the model's own sentence, and each request writes at most one log line.
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
from fsigenz.serving import add_classes, feature_table
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
            predictions = pyfunc_model.predict(
                feature_table(features), params={"inference.calibrated": calibrated}
            )
            # row by row: the evaluation's own argmax over the same scores
            scores = trained_model.estimator.decision_function(features)
            expected = names[gzsl_predictions(scores, protocol.task.seen_mask, gamma)]
            np.testing.assert_array_equal(predictions["predicted_class"].to_numpy(), expected)
            # and the metric the run reported
            accuracy = class_accuracy(predictions["predicted_class"], labels, dataset.class_names)
            assert accuracy == pytest.approx(metrics[f"gzsl_{split}{suffix}"], abs=1e-3)


def test_the_signature_declares_the_request_parameters_and_no_input_schema(pyfunc_model):
    """No input schema: MLflow would drop the columns it does not declare before the model's check."""
    signature = pyfunc_model.metadata.signature
    assert signature.inputs is None
    assert {p.name: p.default for p in signature.params.params} == {
        "inference.top_k": 5,
        "inference.calibrated": True,
        "inference.new_classes": "",
        "inference.examples": "",
    }
    assert pyfunc_model.metadata.metadata["input_contract"]["feature_dim"] == 128


def test_classes_added_by_request_or_to_the_loaded_model_score_alike(trained, pyfunc_model):
    _, dataset, _ = trained
    unseen = int(dataset.unseen_classes[0])
    columns = [f"attribute_{i}" for i in range(dataset.attribute_dim)]
    new_classes = pd.DataFrame([dataset.class_attributes[:, unseen]], columns=columns)
    new_classes.insert(0, "class", ["twin"])
    rows = dataset.splits["test_unseen"][:20]
    predictions = pyfunc_model.predict(
        feature_table(dataset.features[rows]),
        params={
            "inference.new_classes": new_classes.to_csv(index=False),
            "inference.top_k": dataset.n_classes + 1,
        },
    )
    extended = add_classes(pyfunc_model, new_classes)  # what mlflow.pyfunc.load_model returns works too
    assert extended.class_names[-1] == "twin" and len(extended.class_names) == dataset.n_classes + 1
    expected = extended.predict(dataset.features[rows], top_k=dataset.n_classes + 1)
    assert predictions["top_k_classes"].tolist() == expected["top_k_classes"].tolist()
    np.testing.assert_allclose(  # float32 scores computed in other chunkings
        np.stack(predictions["top_k_scores"]), np.stack(expected["top_k_scores"]), rtol=1e-6, atol=1e-5
    )

    bad = new_classes.copy()
    bad.loc[0, "attribute_3"] = np.nan
    with pytest.raises(
        Exception,
        match=r"params 'inference.new_classes': row 0 \(class 'twin'\), column 'attribute_3': "
        r"expected a finite number",
    ):
        pyfunc_model.predict(
            feature_table(dataset.features[rows]), params={"inference.new_classes": bad.to_csv(index=False)}
        )


def test_image_paths_are_refused_saying_the_model_has_no_backbone(pyfunc_model):
    with pytest.raises(
        Exception,
        match=r"column 'image_path': this model cannot read images, it has no image "
        r"backbone: its training features come from the 'synthetic' source",
    ):
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
        # mlflow runs `uvicorn`
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [
        MLFLOW,
        "models",
        "serve",
        "-m",
        f"runs:/{logged.source_run_id}/model",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = open(project / "serve.log", "w")
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert process.poll() is None, (project / "serve.log").read_text()[-3000:]
            try:
                if request(f"http://127.0.0.1:{port}/ping")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, (
                "server did not answer /ping:\n" + (project / "serve.log").read_text()[-3000:]
            )
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", project / "serve.log"
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
    url, _ = server
    rows = np.concatenate(
        [dataset.splits["test_unseen"][: SERVED_ROWS // 2], dataset.splits["test_seen"][: SERVED_ROWS // 2]]
    )
    table = feature_table(dataset.features[rows])
    body = {"dataframe_split": table.to_dict(orient="split"), "params": {"inference.top_k": 3}}
    status, text = request(f"{url}/invocations", body)
    assert status == 200, text
    served = pd.DataFrame(json.loads(text)["predictions"])
    local = pyfunc_model.predict(table, params={"inference.top_k": 3})
    assert served["predicted_class"].tolist() == local["predicted_class"].tolist()
    np.testing.assert_allclose(served["score"], local["score"], rtol=1e-5, atol=1e-6)
    assert served["top_k_classes"].tolist() == local["top_k_classes"].tolist()

    # one column of vectors is the other feature form
    vectors = {
        "dataframe_split": {
            "columns": ["features"],
            "data": [[row] for row in dataset.features[rows].tolist()],
        },
        "params": {"inference.top_k": 3},
    }
    status, text = request(f"{url}/invocations", vectors)
    assert status == 200, text
    assert (
        pd.DataFrame(json.loads(text)["predictions"])["predicted_class"].tolist()
        == local["predicted_class"].tolist()
    )


def refusal(url: str, body: dict) -> str:
    """The top-level message of a 400 answer."""
    status, text = request(f"{url}/invocations", body)
    assert status == 400, text
    return json.loads(text)["message"]


def test_what_cannot_be_scored_gets_a_400_whose_message_says_why(trained, server):
    _, dataset, _ = trained
    url, _ = server
    features = dataset.features[dataset.splits["test_unseen"][:3]]
    wide = feature_table(np.zeros((3, 2048)))  # the case: 2048 columns sent to the 128-feature model
    assert refusal(url, {"dataframe_split": wide.to_dict(orient="split")}).startswith(
        "features_to_score: expected exactly the model's 128 feature columns feature_0 … feature_127, "
        "or one column 'features' of length-128 vectors; "
        "got 2048 column(s), 2048 named feature_<i>: unexpected column(s) "
        "'feature_128', 'feature_129', 'feature_130', … (1920 in all)"
    )
    extra = feature_table(features).assign(image_id=["a", "b", "c"])
    assert "unexpected column(s) 'image_id'" in refusal(
        url, {"dataframe_split": extra.to_dict(orient="split")}
    )
    renamed = feature_table(features).rename(columns={"feature_0": "pixel_0"})
    message = refusal(url, {"dataframe_split": renamed.to_dict(orient="split")})
    assert "unexpected column(s) 'pixel_0'; missing 'feature_0'" in message
    split = feature_table(features).to_dict(orient="split")
    split["data"][1][3] = None  # a JSON null, row 1
    assert "row 1, column 'feature_3': expected a finite number, got nan" in refusal(
        url, {"dataframe_split": split}
    )
    short = {
        "dataframe_split": {
            "columns": ["features"],
            "data": [[features[0].tolist()], [features[1, :100].tolist()]],
        }
    }
    assert (
        "column 'features', row 1: expected a vector of the model's 128 features, got shape (100,)"
        in refusal(url, short)
    )
    header_only = "class," + ",".join(f"a{i}" for i in range(dataset.attribute_dim)) + "\n"
    body = {
        "dataframe_split": feature_table(features).to_dict(orient="split"),
        "params": {"inference.new_classes": header_only},
    }
    assert (
        refusal(url, body)
        == "params 'inference.new_classes': no class rows after the header; expected one row per class to add"
    )
    # image paths reach the model, which has no backbone to embed them
    images = {"dataframe_split": {"columns": ["image_path"], "data": [["/images/okapi.jpg"]]}}
    assert "it has no image backbone" in refusal(url, images)


def test_the_server_writes_at_most_one_line_per_request(trained, server):
    _, dataset, _ = trained
    url, log_file = server
    body = {
        "dataframe_split": feature_table(dataset.features[:1]).to_dict(orient="split"),
        "params": {"inference.top_k": 2},
    }
    assert request(f"{url}/invocations", body)[0] == 200
    time.sleep(0.5)
    before = log_file.read_text().count("\n")
    for _ in range(5):
        assert request(f"{url}/invocations", body)[0] == 200
    time.sleep(0.5)
    written = log_file.read_text().splitlines()[before:]
    assert len(written) <= 5, written


IMPORTS_OF_A_PREDICTION = """
import sys
from importlib import metadata

import cloudpickle, kedro, mlflow, numpy as np, pandas as pd, torch  # noqa: E401, F401


def distributions():
    providers = metadata.packages_distributions()
    modules = {name.split(".")[0] for name in list(sys.modules)}
    return sorted({dist for module in modules for dist in providers.get(module, [])})


libraries_alone = distributions()  # what the pinned libraries import on their own (optional extras too)
model = mlflow.pyfunc.load_model(sys.argv[1])
width = model.unwrap_python_model().trained_model.feature_dim
model.predict(pd.DataFrame(np.zeros((2, width)), columns=[f"feature_{i}" for i in range(width)]))
print(" ".join(libraries_alone))
print(" ".join(distributions()))
"""


def test_the_models_requirements_are_what_it_imports(trained):
    """requirements.txt of the logged model pins what loading and predicting import, and nothing more
    (timm, torchvision and pillow: what embedding image_path rows imports)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from tests.test_packaging import runtime_closure

    _, _, logged = trained
    model_folder = Path(logged.artifact_location.removeprefix("file://"))
    pinned = [Requirement(line) for line in (model_folder / "requirements.txt").read_text().split()]
    assert all(str(r.specifier).startswith("==") for r in pinned)
    pinned_names = {canonicalize_name(r.name) for r in pinned}
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_A_PREDICTION, str(model_folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(model_folder / "code")},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    libraries_alone, after_prediction = (
        {canonicalize_name(name) for name in line.split()} - {"fsigenz"}
        for line in result.stdout.splitlines()
    )
    image_path_only = {"timm", "torchvision", "pillow"}
    assert sorted(pinned_names - after_prediction - image_path_only) == []  # nothing pinned goes unused
    # nothing the model's own code imports goes unpinned (a library's optional imports, such as mlflow's
    # of psutil, are that library's business)
    unpinned = after_prediction - runtime_closure([str(r) for r in pinned]) - libraries_alone
    assert sorted(unpinned) == []
