"""Studies: named sets of runs of the same pipeline that differ in a few parameters.

A study block (``experiments.studies.<name>`` in ``parameters_experiments.yml``) lists its settings
either by name or as one-parameter-at-a-time sweeps::

    ablation:                                   # the paper's Table 3
      settings:
        full: {}
        without_msas: {fsigenz.msas.enabled: false}
    sensitivity:                                # the paper's Figure 5
      sweeps:
        fsigenz.prototypes.n_prototypes: [5, 10, 20, 30, 50]
    seeds:                                      # spread over seeds
      settings:
        fsigenz: {model.method: fsigenz}
      seeds: [0, 1, 2]
      seed_parameters: [fsigenz.scc.seed, synthetic.source.seed]

With ``seeds``, every setting runs once per seed, all ``seed_parameters`` set to that seed; the runs are
named ``<setting>/seed=<seed>`` and the reports summarise each setting by its mean and 95 % interval.

Each setting becomes one ``kedro run`` whose ``--params`` are the setting's values: a global command-line
value beats the per-dataset defaults (README, "Parameters"), so the value under study reaches every
dataset namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STUDY_KEYS = ("description", "settings", "sweeps", "seeds", "seed_parameters")
SEED_SEPARATOR = "/seed="


@dataclass(frozen=True)
class StudySetting:
    """One run of a study: its name, its parameter overrides, and (for sweeps) what it varies."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)  # dotted parameter -> value
    swept_parameter: str | None = None
    value: Any = None
    seed: int | None = None  # studies with seeds: the seed of this run (``name`` is ``<base>/seed=<seed>``)

    @property
    def base(self) -> str:
        """The setting's name without its seed: what a study with seeds summarises over."""
        return base_setting(self.name)


def base_setting(name: str) -> str:
    """``fsigenz`` for ``fsigenz/seed=2``; a name without a seed is returned as it is."""
    return str(name).split(SEED_SEPARATOR, 1)[0]


def sweep_setting_name(parameter: str, value: Any) -> str:
    """``fsigenz.scc.beta=0.5``: the setting name of one point of a sweep."""
    return f"{parameter}={format_value(value)}"


def study_settings(name: str, study: Mapping[str, Any]) -> list[StudySetting]:
    """The settings of study ``name``, in the order the parameters list them (named, then sweeps)."""
    where = f"experiments.studies.{name}"
    if not isinstance(study, Mapping):
        raise ValueError(
            f"{where}: expected a mapping with 'settings' and/or 'sweeps', got {type(study).__name__}"
        )
    unknown = sorted(set(study) - set(STUDY_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {list(STUDY_KEYS)}")
    settings: list[StudySetting] = []
    for setting_name, overrides in (study.get("settings") or {}).items():
        if not isinstance(overrides, Mapping):
            raise ValueError(
                f"{where}.settings.{setting_name}: expected a mapping {{dotted.parameter: value}}, "
                f"got {overrides!r}"
            )
        settings.append(StudySetting(str(setting_name), dict(overrides)))
    for parameter, values in (study.get("sweeps") or {}).items():
        if not isinstance(values, Sequence) or isinstance(values, str) or len(values) == 0:
            raise ValueError(
                f"{where}.sweeps.{parameter}: expected a non-empty list of values, got {values!r}"
            )
        for value in values:
            settings.append(
                StudySetting(sweep_setting_name(parameter, value), {parameter: value}, parameter, value)
            )
    if not settings:
        raise ValueError(f"{where}: no settings; give 'settings' or 'sweeps'")
    settings = _with_seeds(where, settings, study.get("seeds"), study.get("seed_parameters"))
    names = [s.name for s in settings]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{where}: setting names must be unique, got {duplicates} more than once")
    return settings


def _with_seeds(
    where: str, settings: list[StudySetting], seeds: Any, seed_parameters: Any
) -> list[StudySetting]:
    """Each setting once per seed (all ``seed_parameters`` set to it), or ``settings`` when no seeds are
    given."""
    if seeds is None and seed_parameters is None:
        return settings
    if (
        not isinstance(seeds, Sequence)
        or isinstance(seeds, str)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        raise ValueError(f"{where}.seeds: expected a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{where}.seeds: each seed once, got {list(seeds)}")
    if (
        not isinstance(seed_parameters, Sequence)
        or isinstance(seed_parameters, str)
        or not seed_parameters
        or not all(isinstance(p, str) and p for p in seed_parameters)
    ):
        raise ValueError(
            f"{where}.seed_parameters: expected a non-empty list of dotted parameters that take the seed "
            f"(e.g. [fsigenz.scc.seed, synthetic.source.seed]), got {seed_parameters!r}"
        )
    for setting in settings:
        clash = sorted(set(setting.overrides) & set(seed_parameters))
        if clash:
            raise ValueError(
                f"{where}.settings.{setting.name}: sets {clash}, which seed_parameters sets per seed"
            )
    return [
        StudySetting(
            f"{setting.name}{SEED_SEPARATOR}{seed}",
            {**setting.overrides, **dict.fromkeys(seed_parameters, seed)},
            setting.swept_parameter,
            setting.value,
            seed,
        )
        for setting in settings
        for seed in seeds
    ]


def select_settings(settings: list[StudySetting], only: Sequence[str] | None) -> list[StudySetting]:
    """The settings named in ``only`` (all when empty), refusing a name the study does not have.

    In a study with seeds, a setting's base name (``fsigenz``) selects all its seeds.
    """
    if not only:
        return settings
    known = {s.name for s in settings} | {s.base for s in settings}
    missing = [name for name in only if name not in known]
    if missing:
        raise ValueError(f"--only: unknown setting(s) {missing}; the study has {sorted(known)}")
    return [s for s in settings if s.name in set(only) or s.base in set(only)]


def format_value(value: Any) -> str:
    """A value as ``kedro run --params`` parses it back (YAML scalars: true, null, 0.5, text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = str(value)
    if "," in text or "=" in text:
        raise ValueError(
            f"study parameter value {value!r}: ',' and '=' cannot pass through kedro run --params"
        )
    return text


def kedro_params(overrides: Mapping[str, Any]) -> str:
    """The ``--params`` argument of a setting's ``kedro run``: ``key=value`` for each dotted key, as given."""
    return ",".join(f"{key}={format_value(overrides[key])}" for key in sorted(overrides))
