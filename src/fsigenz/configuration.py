"""One run's configuration, resolved once per dataset namespace into one validated, typed object.

Where a value comes from, lowest to highest precedence:

1. library defaults — the method constructors' defaults (:mod:`fsigenz.methods.settings`);
2. ``conf/base`` — the global blocks ``model`` and one per method (``fsigenz``, ``eszsl``, ...);
3. per-dataset defaults — the same blocks under the namespace, ``<namespace>.fsigenz.scc.n_steps``
   (``conf/base/parameters_datasets.yml``);
4. ``conf/local`` — values written there under the namespace (``scripts/tune.py`` does), or globally;
5. the command line — ``--params=fsigenz.scc.n_steps=60`` for every namespace, then
   ``--params=synthetic.fsigenz.scc.n_steps=60`` for one.

Kedro merges conf/base, conf/local and the command line into the parameters; what this module adds
is the one step Kedro cannot know: a global command-line value beats a per-dataset default. The
command line reaches it through Kedro's ``runtime_params`` resolver (``command_line`` in
``conf/base/parameters_run.yml``).

:func:`resolve_run_configuration` checks every method block (unknown keys, wrong types), the
``model`` block and the selection grid, naming the full dotted key and what was expected, and
returns a :class:`RunConfiguration`: the method, its complete settings, the selection settings (the
criterion is ``model.selection.metrics.<method>`` where given, else ``model.selection.metric``), its
grid, and the settings its prototype table is made with. Every consumer takes that object.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fsigenz.methods.registry import METHODS, deep_merge, method_parameters, method_spec
from fsigenz.methods.settings import SettingsError, validate_settings

METHOD_BLOCKS = tuple(METHODS)  # fsigenz, tcn, eszsl, ncm, fclswgan, cadavae, tfvaegan
CONFIGURABLE_BLOCKS = ("model", *METHOD_BLOCKS)
PROTOTYPE_KEYS = ("msas", "prototypes", "l2_normalize")  # the settings a prototype table is made with
PROTOTYPE_FAMILY = "fsigenz"  # whose settings make the table when the chosen method uses none


@dataclass(frozen=True)
class SelectionSettings:
    """How a method is chosen on the class-disjoint validation split (``model.selection``)."""

    metric: str = "gzsl_h"  # model.selection.metrics.<method> when given, else model.selection.metric
    seen_holdout_fraction: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class RunConfiguration:
    """The resolved configuration of one namespace's run.

    - ``method``: the registry name that runs; ``settings``: its complete settings (every key, library
      defaults filled in), what its estimator is built with;
    - ``selection`` and ``grid`` (``{dotted.setting: [values]}``, keys relative to ``settings``);
    - ``prototype_method`` / ``prototype_settings``: whose ``msas``, ``prototypes`` and ``l2_normalize``
      settings make the prototype table (the chosen method's when it uses prototypes, else FSIGenZ's,
      for inspection).
    """

    namespace: str
    method: str
    settings: dict[str, Any]
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    grid: dict[str, list] = field(default_factory=dict)
    prototype_method: str = PROTOTYPE_FAMILY
    prototype_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def n_prototypes(self) -> int:
        return int(self.prototype_settings["prototypes"]["n_prototypes"])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfiguration:
        data = dict(data)
        data["selection"] = SelectionSettings(**(data.get("selection") or {}))
        return cls(**data)


def prototype_settings_key(settings: Mapping[str, Any]) -> str:
    """Canonical text of prototype settings (stored with a prototype table, compared when it is used)."""
    return json.dumps({key: settings[key] for key in PROTOTYPE_KEYS}, sort_keys=True)


def layered_blocks(
    namespace: str,
    global_blocks: Mapping[str, Any],
    dataset_parameters: Mapping[str, Any] | None,
    command_line: Mapping[str, Any] | None,
) -> dict[str, dict]:
    """The ``model`` and method blocks with every layer applied in order of precedence.

    ``global_blocks`` are Kedro's merged global blocks (conf/base, conf/local, command line);
    ``dataset_parameters`` the namespace's parameters (per-dataset defaults, conf/local, command
    line); ``command_line`` Kedro's runtime parameters. A global command-line value is applied after
    the per-dataset defaults, a per-namespace one after it.
    """
    dataset_parameters = dataset_parameters or {}
    command_line = command_line or {}
    namespace_command_line = command_line.get(namespace) or {}
    blocks: dict[str, dict] = {}
    for name in CONFIGURABLE_BLOCKS:
        layers = (
            global_blocks.get(name),
            dataset_parameters.get(name),
            command_line.get(name),
            namespace_command_line.get(name) if isinstance(namespace_command_line, Mapping) else None,
        )
        merged: dict = {}
        for where, layer in zip(("", f"{namespace}.", "", f"{namespace}."), layers, strict=True):
            if layer is None:
                continue
            if not isinstance(layer, Mapping):
                raise SettingsError(f"{where}{name}: expected a mapping of settings, got {layer!r}")
            merged = deep_merge(merged, dict(layer))
        blocks[name] = merged
    return blocks


def resolve_run_configuration(
    namespace: str,
    global_blocks: Mapping[str, Any],
    dataset_parameters: Mapping[str, Any] | None = None,
    command_line: Mapping[str, Any] | None = None,
) -> RunConfiguration:
    """Merge the layers (see the module docstring), validate everything, and pick the chosen method."""
    blocks = layered_blocks(namespace, global_blocks, dataset_parameters, command_line)
    model = blocks["model"]
    selection, grids = _validate_model_block(model)
    complete = {
        name: validate_settings(method_spec(name).estimator_class, method_parameters(name, blocks), name)
        for name in METHOD_BLOCKS
    }
    method = model["method"]
    settings = complete[method]
    grid = {str(key): list(values) for key, values in (grids.get(method) or {}).items()}
    _validate_grid(method, settings, grid)
    prototype_method = method if method_spec(method).uses_prototypes else PROTOTYPE_FAMILY
    prototype_settings = {key: complete[prototype_method][key] for key in PROTOTYPE_KEYS}
    return RunConfiguration(
        namespace=namespace,
        method=method,
        settings=settings,
        selection=selection,
        grid=grid,
        prototype_method=prototype_method,
        prototype_settings=prototype_settings,
    )


def _validate_model_block(model: Mapping[str, Any]) -> tuple[SelectionSettings, dict]:
    unknown = sorted(set(model) - {"method", "selection"})
    if unknown:
        raise SettingsError(f"model.{unknown[0]}: unknown setting; expected one of ['method', 'selection']")
    method = model.get("method")
    if method not in METHODS:
        raise SettingsError(f"model.method: expected one of {sorted(METHODS)}, got {method!r}")
    selection = dict(model.get("selection") or {})
    grids = selection.pop("grids", None) or {}
    if not isinstance(grids, Mapping):
        raise SettingsError(f"model.selection.grids: expected a mapping of method -> grid, got {grids!r}")
    metrics = selection.pop("metrics", None) or {}
    if not isinstance(metrics, Mapping):
        raise SettingsError(
            f"model.selection.metrics: expected a mapping of method -> metric, got {metrics!r}"
        )
    for name, metric in metrics.items():
        if name not in METHODS:
            raise SettingsError(
                f"model.selection.metrics.{name}: unknown method; expected one of {sorted(METHODS)}"
            )
        if not isinstance(metric, str):
            raise SettingsError(f"model.selection.metrics.{name}: expected a string, got {metric!r}")
    for name, grid in grids.items():
        if name not in METHODS:
            raise SettingsError(
                f"model.selection.grids.{name}: unknown method; expected one of {sorted(METHODS)}"
            )
        if not isinstance(grid or {}, Mapping):
            raise SettingsError(
                f"model.selection.grids.{name}: expected a mapping {{dotted.setting: [values]}}, got {grid!r}"
            )
    expected = {f.name: f.type for f in dataclasses.fields(SelectionSettings)}
    for key, value in selection.items():
        if key not in expected:
            raise SettingsError(
                f"model.selection.{key}: unknown setting; expected one of {[*expected, 'grids', 'metrics']}"
            )
        kind = {"str": str, "float": float, "int": int}[str(expected[key])]
        if isinstance(value, bool) or not isinstance(value, (kind, int) if kind is float else kind):
            raise SettingsError(f"model.selection.{key}: expected {_KIND_NAMES[kind]}, got {value!r}")
    if method in metrics:  # the method's own criterion (ESZSL's paper: validation CZSL) refines `metric`
        selection["metric"] = metrics[method]
    return SelectionSettings(**selection), dict(grids)


_KIND_NAMES = {str: "a string", float: "a number", int: "an integer"}


def _validate_grid(method: str, settings: Mapping[str, Any], grid: Mapping[str, list]) -> None:
    """Every grid key is a setting of the method, and every value a valid value of it."""
    from fsigenz.protocol import set_nested

    for key, values in grid.items():
        label = f"model.selection.grids.{method}.{key}"
        node: Any = settings
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise SettingsError(f"{label}: '{key}' is not a setting of {method}")
            node = node[part]
        if not isinstance(values, (list, tuple)) or not values:
            raise SettingsError(f"{label}: expected a non-empty list of values, got {values!r}")
        for value in values:
            try:
                validate_settings(
                    method_spec(method).estimator_class, set_nested(dict(settings), key, value), method
                )
            except SettingsError as error:
                raise SettingsError(f"{label}: {error}") from None
