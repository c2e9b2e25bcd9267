"""How the parameter files fit together (Kedro layer).

Global blocks, shared by every dataset namespace:
- ``model``: which method runs (``model.method``) and how it is selected (``model.selection``);
- one block per method (``fsigenz``, ``tcn``, ``eszsl``, ``ncm``, ``fclswgan``) with its hyperparameters.
Each namespace may refine any of them in ``<namespace>.overrides`` (merged key by key), which is where
per-dataset defaults live. So ``kedro run --params=fsigenz.dpsr.enabled=false`` switches DPSR off for
every dataset whose overrides do not set it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fsigenz.methods.registry import deep_merge, method_parameters, method_spec

METHOD_BLOCKS = ("fsigenz", "tcn", "eszsl", "ncm", "fclswgan")


@dataclass(frozen=True)
class RunConfiguration:
    method: str
    method_parameters: dict
    selection: dict
    grid: dict


def resolve_configuration(model: dict, overrides: dict | None, method_blocks: dict[str, dict]) -> RunConfiguration:
    """Merge the namespace overrides into the global blocks and pick the chosen method's."""
    overrides = overrides or {}
    model = deep_merge(model, overrides.get("model"))
    blocks = {name: deep_merge(block or {}, overrides.get(name)) for name, block in method_blocks.items()}
    name = model.get("method")
    method_spec(name)  # clear error for an unknown method
    selection = dict(model.get("selection") or {})
    grid = dict((selection.pop("grids", None) or {}).get(name) or {})
    return RunConfiguration(name, method_parameters(name, blocks), selection, grid)
