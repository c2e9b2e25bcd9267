# Fresh-machine entry points (see README): `make run` and `make test` set up what is missing, then run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
ENV := KEDRO_DISABLE_TELEMETRY=true HF_HUB_OFFLINE=1 MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false

.PHONY: setup run test viz benchmark mlflow-ui clean

setup: $(VENV)/.installed

# pip (not uv/poetry): torch 2.14.1 / torchvision 0.29.1 come from local wheels where they exist
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

run: setup
	$(ENV) $(BIN)/kedro run

test: setup
	$(ENV) $(BIN)/python -m pytest

viz: setup
	$(ENV) $(BIN)/kedro viz build

benchmark: setup
	$(ENV) $(BIN)/python benchmarks/run_all.py

mlflow-ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

clean:
	rm -rf data/02_intermediate data/04_feature data/06_models data/08_reporting mlflow.db mlartifacts
