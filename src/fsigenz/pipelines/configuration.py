"""The run configuration in the Kedro layer: one resolve node per namespace, and its dataset.

Parameters are Kedro's namespaced parameters: the global blocks (``model`` and one per method:
``fsigenz``, ``eszsl``, ``cadavae``, ...) are shared by every dataset namespace, and the same blocks under a
namespace (``synthetic.fsigenz.scc.n_steps``) are that dataset's defaults. The node
``<namespace>.configure_run`` merges them in order of precedence (library defaults <
conf/base < per-dataset defaults < conf/local < command line; :mod:`fsigenz.configuration`),
validates them, and writes one :class:`~fsigenz.configuration.RunConfiguration` to the catalog
(``<namespace>.run_configuration``: a YAML file, an MLflow artifact, a node in kedro-viz). Every
consumer (prototype generation, selection, the final fit, visualisation) takes it, and only it.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from kedro.io import AbstractDataset
from kedro.pipeline import Pipeline, node

from fsigenz.configuration import (
    CONFIGURABLE_BLOCKS,
    METHOD_BLOCKS,
    RunConfiguration,
    resolve_run_configuration,
)

__all__ = ["METHOD_BLOCKS", "RunConfigurationDataset", "create_pipeline", "resolver_for"]

COMMAND_LINE = "params:command_line"  # Kedro's runtime parameters, via the runtime_params resolver


def resolve_namespace_configuration(
    namespace: str, dataset_parameters: dict, command_line: dict, **global_blocks: dict
) -> RunConfiguration:
    """The global blocks, the namespace's parameters and the command line → the namespace's
    validated :class:`RunConfiguration` (:func:`fsigenz.configuration.resolve_run_configuration`)."""
    return resolve_run_configuration(namespace, global_blocks, dataset_parameters, command_line)


def resolver_for(namespace: str) -> functools.partial:
    """The resolve node's function for ``namespace`` (a partial: picklable, for runners that need it;
    named after its function, as Kedro advises)."""
    resolver = functools.update_wrapper(
        functools.partial(resolve_namespace_configuration, namespace), resolve_namespace_configuration
    )
    del resolver.__wrapped__  # its signature is the partial's, without ``namespace``
    # string annotations cannot be evaluated on a partial (no __globals__): give Kedro's type-hint
    # reader none, instead of a warning at every run (the node validates its inputs itself)
    resolver.__annotations__ = {}
    return resolver


def create_pipeline(namespace: str) -> Pipeline:
    """The resolve node of ``namespace``, to be namespaced with ``parameters`` mapping
    ``params:<namespace>``, ``params:command_line`` and the global blocks to themselves."""
    return Pipeline(
        [
            node(
                resolver_for(namespace),
                {
                    "dataset_parameters": f"params:{namespace}",
                    "command_line": COMMAND_LINE,
                    **{name: f"params:{name}" for name in CONFIGURABLE_BLOCKS},
                },
                "run_configuration",
                # Kedro runs ready nodes in name order: "configure_run" sorts before the other first
                # nodes (load_dataset, package_image_backbone), so a bad parameter stops the run
                # before anything else runs, and its error is the one the user sees last.
                name="configure_run",
            )
        ]
    )


class RunConfigurationDataset(AbstractDataset[RunConfiguration, RunConfiguration]):
    """A :class:`RunConfiguration` as a YAML file (written whole or not at all)."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _load(self) -> RunConfiguration:
        with open(self._filepath, encoding="utf-8") as file:
            return RunConfiguration.from_dict(yaml.safe_load(file))

    def _save(self, data: RunConfiguration) -> None:
        path = Path(self._filepath)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
        ) as file:
            yaml.safe_dump(data.to_dict(), file, sort_keys=False)
        os.replace(file.name, path)

    def _exists(self) -> bool:
        return Path(self._filepath).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
