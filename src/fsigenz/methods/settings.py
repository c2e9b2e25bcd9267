"""Typed settings of every method: unknown keys and wrong types refused, library defaults filled in.

A method's settings are its constructor's arguments, with the constructor's defaults as the library
defaults; FSIGenZ-style methods group some of them (``msas``, ``prototypes``, ``dpsr``, ``scc``),
each group typed by its component's constructor. The schemas are built from those signatures, so
they cannot drift from the code, and validated with OmegaConf's structured configs (the engine of
Kedro's configuration): :func:`validate_settings` returns the complete settings, or raises
:class:`SettingsError` naming the full dotted key and what was expected.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import inspect
import typing
from collections.abc import Mapping
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException


class SettingsError(ValueError):
    """A setting that is not one: the message names the full dotted key and what was expected."""


def _group_classes() -> dict[str, type | dict]:
    """Settings groups of FSIGenZ-style methods: group name → component class (or defaults dict)."""
    from fsigenz.methods.fsigenz import ANCHOR_DEFAULTS, DPSR_DEFAULTS
    from fsigenz.methods.msas import MSAS
    from fsigenz.methods.prototypes import PrototypeGenerator
    from fsigenz.methods.scc import SemanticContrastiveClassifier

    return {
        "msas": MSAS,
        "prototypes": PrototypeGenerator,
        "dpsr": DPSR_DEFAULTS,
        "anchor": ANCHOR_DEFAULTS,
        "scc": SemanticContrastiveClassifier,
    }


def _field(name: str, annotation: Any, default: Any) -> tuple:
    if isinstance(default, (list, tuple, dict)):
        return (name, annotation, dataclasses.field(default_factory=lambda: default))
    return (name, annotation, default)


@functools.cache
def settings_schema(component: type) -> type:
    """A dataclass with one typed field per constructor argument of ``component`` (its defaults);
    a group argument (``msas``, ``scc``, ...) becomes a nested schema."""
    groups = _group_classes()
    fields = []
    for parameter, hints in _constructor_parameters(component):
        group = groups.get(parameter.name) if _is_mapping(hints.get(parameter.name)) else None
        if group is not None:
            nested = (
                _dict_schema(parameter.name, group) if isinstance(group, dict) else settings_schema(group)
            )
            fields.append((parameter.name, nested, dataclasses.field(default_factory=nested)))
        else:
            fields.append(_field(parameter.name, hints.get(parameter.name, Any), parameter.default))
    return dataclasses.make_dataclass(f"{component.__name__}Settings", fields, frozen=False)


def _constructor_parameters(component: type) -> list[tuple[inspect.Parameter, dict]]:
    """The named constructor arguments of ``component`` with the type hints of their constructor; a
    constructor that passes ``**kwargs`` on to its base class's (TF-VAEGAN's) also takes the base's."""
    parameters: dict[str, tuple[inspect.Parameter, dict]] = {}
    for cls in component.__mro__:
        if "__init__" not in vars(cls) or cls is object:
            continue
        hints = typing.get_type_hints(cls.__init__)
        forwards = False
        for parameter in inspect.signature(cls.__init__).parameters.values():
            if parameter.kind is parameter.VAR_KEYWORD:
                forwards = True
            elif parameter.name != "self" and parameter.kind is not parameter.VAR_POSITIONAL:
                parameters.setdefault(parameter.name, (parameter, hints))  # the subclass's default wins
        if not forwards:
            break
    return list(parameters.values())


@functools.cache
def _dict_schema_cached(name: str, items: tuple) -> type:
    fields = [_field(key, type(value), value) for key, value in items]
    return dataclasses.make_dataclass(f"{name.title()}Settings", fields)


def _dict_schema(name: str, defaults: dict) -> type:
    return _dict_schema_cached(name, tuple(defaults.items()))


def _is_mapping(annotation: Any) -> bool:
    """Whether ``annotation`` is ``Mapping[...]`` (or ``Mapping[...] | None``)."""
    candidates = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, _UnionType)
        else (annotation,)
    )
    return any(
        typing.get_origin(c) in (collections.abc.Mapping, dict) or c in (dict, collections.abc.Mapping)
        for c in candidates
    )


_UnionType = type(int | None)


def field_names(schema: type) -> list[str]:
    return [f.name for f in dataclasses.fields(schema)]


def validate_settings(component: type, given: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    """``given`` over ``component``'s library defaults, checked against its typed schema.

    Returns the complete settings as plain values; raises :class:`SettingsError` naming
    ``<prefix>.<dotted key>``, what was expected and what was given.
    """
    schema = settings_schema(component)
    given = _with_preset(component, _plain(given or {}, prefix), prefix)
    _check_groups(schema, given, prefix)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), given)
    except OmegaConfBaseException as error:
        raise _settings_error(error, schema, prefix, given) from None
    return _lists(OmegaConf.to_container(merged, resolve=True))


def _with_preset(component: type, given: Any, prefix: str) -> Any:
    """``given`` over the values of its preset, for a component with presets (``component.PRESETS``,
    chosen by its ``preset`` argument): the settings then show what the preset runs."""
    presets = getattr(component, "PRESETS", None)
    if not presets or not isinstance(given, Mapping):
        return given
    name = given.get("preset", inspect.signature(component.__init__).parameters["preset"].default)
    if name not in presets:
        raise SettingsError(f"{prefix}.preset: expected one of {sorted(presets)}, got {name!r}")
    from fsigenz.methods.registry import deep_merge

    return deep_merge(presets[name], given)


def _lists(value: Any) -> Any:
    """Plain YAML-able values: tuples become lists."""
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    return value


def _check_groups(schema: type, given: Any, prefix: str) -> None:
    """Refuse a non-mapping where a group (or the settings themselves) is expected, and a
    non-list where a list is, before OmegaConf (whose message then names no key) sees them."""
    if not isinstance(given, Mapping):
        raise SettingsError(f"{prefix}: expected {_describe(schema)}, got {given!r}")
    types = {f.name: f.type for f in dataclasses.fields(schema)}
    for key, value in given.items():
        annotation = types.get(key)
        if dataclasses.is_dataclass(annotation):
            _check_groups(annotation, value, f"{prefix}.{key}")
        elif typing.get_origin(annotation) in (tuple, list):
            item_types = [a for a in typing.get_args(annotation) if a is not Ellipsis]
            if not isinstance(value, (list, tuple)) or (
                typing.get_origin(annotation) is tuple
                and Ellipsis not in typing.get_args(annotation)
                and len(value) != len(item_types)
            ):
                raise SettingsError(f"{prefix}.{key}: expected {_describe(annotation)}, got {value!r}")
            # list[X] and tuple[X, ...] give one item type for every item; tuple[X, Y] one per position
            homogeneous = typing.get_origin(annotation) is list or Ellipsis in typing.get_args(annotation)
            for item, item_type in zip(
                value, item_types * len(value) if homogeneous else item_types, strict=True
            ):
                if item_type is float and (isinstance(item, bool) or not isinstance(item, (int, float))):
                    raise SettingsError(f"{prefix}.{key}: expected {_describe(annotation)}, got {value!r}")


def _plain(value: Any, prefix: str) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{prefix}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, prefix) for v in value]
    return value


def _settings_error(error: OmegaConfBaseException, schema: type, prefix: str, given: dict) -> SettingsError:
    full_key = str(getattr(error, "full_key", "") or getattr(error, "key", "") or "")
    dotted = f"{prefix}.{full_key}" if full_key else prefix
    parent_schema = schema
    *parents, leaf = full_key.split(".") if full_key else [""]
    for name in parents:
        match = {f.name: f.type for f in dataclasses.fields(parent_schema)}.get(name)
        if dataclasses.is_dataclass(match):
            parent_schema = match
    if isinstance(error, ConfigKeyError) or "not in" in str(error):
        return SettingsError(f"{dotted}: unknown setting; expected one of {field_names(parent_schema)}")
    expected = {f.name: f.type for f in dataclasses.fields(parent_schema)}.get(leaf)
    if not full_key:
        return SettingsError(f"{prefix}: {error}")
    value = _lookup(given, full_key)
    return SettingsError(f"{dotted}: expected {_describe(expected)}, got {value!r}")


def _lookup(given: dict, dotted: str) -> Any:
    node: Any = given
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return "<?>"
        node = node[key]
    return node


def _describe(annotation: Any) -> str:
    if dataclasses.is_dataclass(annotation):
        return f"a mapping of {field_names(annotation)}"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}
    if typing.get_origin(annotation) in (typing.Union, _UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is tuple and Ellipsis not in typing.get_args(annotation):
        item_types = typing.get_args(annotation)
        return f"a list of {len(item_types)} ({', '.join(_describe(a) for a in item_types)})"
    if typing.get_origin(annotation) in (tuple, list):
        return f"a list of {_describe(typing.get_args(annotation)[0])}s"
    return names.get(annotation, str(annotation))
