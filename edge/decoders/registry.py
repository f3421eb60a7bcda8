"""The decoders: one table of ``DecoderInfo`` rows, open to plug-ins.

A decoder is a plain function ``decode(outputs, placement, params) -> (detections,
extra)``. It receives the dequantized outputs keyed by tensor name (never by position: a
converted model's output order can differ from Keras's), the placement of the model
window in the frame (``edge.processing.preprocess.Placement``), and its parameters: an
instance of its ``DecoderParams`` model (validated once at start), or a plain dict that
the decoder validates itself with ``Model.coerce`` (unit tests). It returns the
``Detections`` and a dict of extra record fields (``{}`` for most; the anomaly decoder
returns ``{"anomaly": {...}}``), which the record merges at its top level.

The table, ``DECODERS``: one ``DecoderInfo`` per decoder, holding its name, its
parameter model (``edge.decoders.params``), the task its records carry, the other names
it answers to (``yolo11`` is ``yolov8``) and where its function lives. Adding a head is
its module, its parameter model and one row. The first row of a task is that task's
default decoder for a model without a manifest (``default_decoder``);
``edge.decoders.heads`` guesses one from the output tensors instead.

Cold start: this module imports no decoder (``get_decoder`` imports the function when a
run chooses it, so a classifier's ``edge run`` never loads the box decoders, see
docs/benchmarks.md), and needs only pydantic: ``edge.config`` checks a ``[decoder]``
table without numpy or OpenCV.

Plug-ins: another installed package adds decoders through the entry-point group
``edge_infer.decoders``. The entry point's name is the decoder's name and it loads a
``DecoderInfo`` of that name::

    [project.entry-points."edge_infer.decoders"]
    mydec = "mypkg.rows:MYDEC"   # MYDEC = DecoderInfo(name="mydec", ...)

The plug-ins are loaded only when a name is not a built-in one, and then all of them
(so two cannot take one name), or to list every decoder for an error message. A plug-in
that fails to import, is not a ``DecoderInfo``, is named unlike its entry point, or
takes a name or alias already taken (a built-in's, or another plug-in's) is a
``ConfigError`` (exit 78) naming the entry point and its package: a plug-in never
replaces a built-in decoder.

Settings, lowest priority first: the parameter model's defaults, the manifest's
``decoder.params`` (calibrated by the converter, e.g. the anomaly threshold; only for
the manifest's own decoder, see ``edge.model.load``), then the user's ``[decoder]``
table and ``--decoder-opt KEY=VALUE``. A manifest value is replaced only by an explicit
setting of the same name. The user's settings are checked strictly against the chosen
decoder: an unknown key, a key of another decoder, a wrong type or a value out of range
is a ``ConfigError`` that names the key, the decoder and its valid keys. The manifest is
read leniently (a newer converter may write keys this device does not know): its
unknown keys are dropped.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias, get_args

from pydantic import ValidationError

from edge.decoders.params import (
    AnomalyParams,
    CenternetParams,
    ClassifyParams,
    DecoderParams,
    SsdParams,
    YoloParams,
)
from edge.decoders.patch_params import PatchParams
from edge.errors import ConfigError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    import numpy as np
    import numpy.typing as npt

    from edge.processing.preprocess import Placement
    from edge.types import Detections

# A decoder function's types, for annotations (strings at run time: no numpy, no OpenCV).
Outputs: TypeAlias = "Mapping[str, npt.NDArray[np.float32]]"
Decoded: TypeAlias = "tuple[Detections, dict[str, Any]]"
Params: TypeAlias = "Mapping[str, Any] | DecoderParams"
Decoder: TypeAlias = "Callable[[Outputs, Placement, Any], Decoded]"

DecoderTask = Literal["classify", "detect", "anomaly"]
GROUP = "edge_infer.decoders"


@dataclass(frozen=True, kw_only=True)
class DecoderInfo:
    """One decoder, as known without importing it: a row of the table.

    ``name``: what ``--decoder`` and ``[decoder] name`` say; ``params``: its settings, a
    ``DecoderParams`` subclass (pydantic only); ``task``: what its records say
    (``classify``, ``detect`` or ``anomaly``: the record schema's kinds of result);
    ``aliases``: other names for it; ``module`` and ``function``: where the decoder
    function is, imported when a run chooses it.
    """

    name: str
    params: type[DecoderParams]
    task: DecoderTask
    aliases: tuple[str, ...] = ()
    module: str
    function: str

    def __post_init__(self) -> None:
        # A plug-in's row is built by someone else's code: say what is wrong with it.
        problems: list[str] = []
        aliases = self.aliases
        if isinstance(aliases, (tuple, list)) and all(isinstance(a, str) for a in aliases):
            object.__setattr__(self, "aliases", tuple(aliases))  # a list becomes a tuple
        else:
            problems.append(f"aliases must be a tuple of names, not {aliases!r}")
            aliases = ()
        names = [("name", self.name), ("module", self.module), ("function", self.function)]
        for what, value in [*names, *(("alias", alias) for alias in aliases)]:
            if not isinstance(value, str) or not value or value.split() != [value]:
                problems.append(f"{what} {value!r} is not a name")
        if not (isinstance(self.params, type) and issubclass(self.params, DecoderParams)):
            problems.append(
                f"params {self.params!r} is not a subclass of edge.decoders.params.DecoderParams"
            )
        if self.task not in get_args(DecoderTask):
            problems.append(f"task {self.task!r} is not one of {', '.join(get_args(DecoderTask))}")
        if problems:
            raise ValueError(f"DecoderInfo {self.name!r}: " + "; ".join(problems))


# The built-in decoders, by name. The first row of a task is its default decoder.
DECODERS: dict[str, DecoderInfo] = {
    info.name: info
    for info in (
        DecoderInfo(
            name="classify",
            params=ClassifyParams,
            task="classify",
            module="edge.decoders.classify",
            function="classify",
        ),
        DecoderInfo(
            name="centernet",
            params=CenternetParams,
            task="detect",
            module="edge.decoders.centernet",
            function="decode_centernet",
        ),
        DecoderInfo(
            name="anomaly",
            params=AnomalyParams,
            task="anomaly",
            module="edge.decoders.anomaly",
            function="decode_anomaly",
        ),
        DecoderInfo(
            name="patchgan",
            params=PatchParams,
            task="anomaly",
            aliases=("patch-discriminator",),
            module="edge.decoders.patch",
            function="decode_patch",
        ),
        DecoderInfo(
            name="ssd",
            params=SsdParams,
            task="detect",
            module="edge.decoders.ssd",
            function="decode_ssd",
        ),
        DecoderInfo(
            name="yolov5",
            params=YoloParams,
            task="detect",
            module="edge.decoders.yolo",
            function="decode_yolov5",
        ),
        DecoderInfo(
            name="yolov8",
            params=YoloParams,
            task="detect",
            aliases=("yolo11",),  # one head format
            module="edge.decoders.yolo",
            function="decode_yolov8",
        ),
    )
}
_BUILT_IN = {name: info for info in DECODERS.values() for name in (info.name, *info.aliases)}


def decoder_info(name: str) -> DecoderInfo:
    """The decoder called ``name`` (or that has it as an alias); unknown: ``ConfigError``."""
    found = _find(name)
    if found is None:
        raise ConfigError(
            f"unknown decoder {name!r}",
            hint=f"choose one of: {', '.join(_all_names())}",
        )
    return found


def decoders() -> list[DecoderInfo]:
    """Every decoder: the built-in ones in table order, then the plug-ins' by name."""
    return [*DECODERS.values(), *_plugin_infos()]


def canonical(name: str) -> str:
    """The decoder's own name for an alias (``yolo11`` -> ``yolov8``); others unchanged."""
    found = _find(name)
    return name if found is None else found.name


def task_of(name: str) -> str | None:
    """The task the decoder's records carry (``ssd`` -> ``detect``); None if unknown."""
    found = _find(name)
    return None if found is None else found.task


def default_decoder(task: str) -> str | None:
    """The decoder of a model of this task that says no more (first row of the task)."""
    return next((info.name for info in DECODERS.values() if info.task == task), None)


def params_model(name: str) -> type[DecoderParams]:
    return decoder_info(name).params


def get_decoder(name: str) -> Decoder:
    """The decoder function, its module imported now (the only place one is)."""
    info = decoder_info(name)
    plugin = None if name in _BUILT_IN else _plugins()[name]
    try:
        function = getattr(importlib.import_module(info.module), info.function)
    except Exception as exc:
        if plugin is None:
            raise  # a built-in decoder that does not import is a bug, not a configuration
        raise ConfigError(
            f"decoder plug-in {plugin.origin}: cannot import its function "
            f"{info.module}:{info.function}: {type(exc).__name__}: {exc}",
            hint=_fix(plugin.package),
        ) from exc
    if not callable(function):
        origin = "built-in decoder" if plugin is None else f"decoder plug-in {plugin.origin}:"
        raise ConfigError(f"{origin} {info.module}:{info.function} is not a function")
    decoder: Decoder = function
    return decoder


def owners_of(key: str) -> list[str]:
    """The decoders that have the setting ``key``: the built-in ones, or (only when none
    has it) the plug-ins'."""
    built_in = [info.name for info in DECODERS.values() if key in info.params.model_fields]
    if built_in:
        return built_in
    return [info.name for info in _plugin_infos() if key in info.params.model_fields]


def all_keys() -> set[str]:
    """The settings of every decoder, plug-ins' included."""
    return {key for info in decoders() for key in info.params.model_fields}


def valid_keys(name: str) -> list[str]:
    return sorted(params_model(name).model_fields)


def resolve_params(
    name: str, manifest: Mapping[str, Any], settings: Mapping[str, Any]
) -> DecoderParams:
    """The decoder's parameters: defaults < manifest < explicit settings (checked)."""
    model = params_model(name)
    check_settings(name, settings)
    known = {key: value for key, value in manifest.items() if key in model.model_fields}
    try:
        return model.model_validate({**known, **settings})
    except ValidationError as exc:
        raise ConfigError(
            _describe(name, exc, settings),
            hint=f"valid keys of the {canonical(name)} decoder: {', '.join(valid_keys(name))}",
        ) from None


def check_settings(name: str, settings: Mapping[str, Any]) -> None:
    """Refuse keys the decoder does not have, and values it would not take."""
    info = decoder_info(name)
    fields = info.params.model_fields
    keys = ", ".join(valid_keys(name))
    for key in settings:
        if key in fields:
            continue
        owners = sorted(owners_of(key))
        near = difflib.get_close_matches(key, list(fields), n=1)
        whose = (
            f" (it is a setting of {', '.join(owners)})"
            if owners
            else (f"; did you mean {near[0]!r}?" if near else "")
        )
        raise ConfigError(
            f"decoder {info.name!r} has no setting {key!r}{whose}",
            hint=f"valid keys of the {info.name} decoder: {keys}",
        )
    try:
        info.params.model_validate(dict(settings))
    except ValidationError as exc:
        raise ConfigError(
            _describe(name, exc, settings), hint=f"valid keys of the {info.name} decoder: {keys}"
        ) from None


def _describe(name: str, exc: ValidationError, settings: Mapping[str, Any]) -> str:
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "decoder"
        given = f" (got {settings[key]!r})" if key in settings else " (from the manifest)"
        parts.append(f"decoder {canonical(name)!r} setting {key}: {error['msg']}{given}")
    return "\n".join(parts)


def _find(name: str) -> DecoderInfo | None:
    found = _BUILT_IN.get(name)
    if found is None and name:  # plug-ins are loaded only for a name not built in (not "")
        plugin = _plugins().get(name)
        found = None if plugin is None else plugin.info
    return found


def _all_names() -> list[str]:
    return sorted(name for info in decoders() for name in (info.name, *info.aliases))


class _Plugin(NamedTuple):
    info: DecoderInfo
    origin: str  # "'mydec' (mypkg.rows:MYDEC, package mypkg 1.0)"
    package: str


def _plugin_infos() -> list[DecoderInfo]:
    """The plug-ins' decoders, by name."""
    unique = {plugin.info.name: plugin.info for plugin in _plugins().values()}
    return [unique[name] for name in sorted(unique)]


@functools.cache
def _plugins() -> dict[str, _Plugin]:
    """Every installed plug-in decoder by name and alias, loaded at the first need (a
    failure is not remembered: the next call tries again)."""
    from importlib.metadata import entry_points

    found: dict[str, _Plugin] = {}
    for point in sorted(entry_points(group=GROUP), key=lambda p: (p.name, p.value)):
        plugin = _load(point)
        for name in (plugin.info.name, *plugin.info.aliases):
            built_in = _BUILT_IN.get(name)
            if built_in is not None:
                raise ConfigError(
                    f"decoder plug-in {plugin.origin} takes the name {name!r} of the "
                    f"built-in decoder {built_in.name!r}; a plug-in cannot replace a "
                    "built-in decoder",
                    hint=f"rename the decoder in its package, or {_fix(plugin.package)}",
                )
            other = found.get(name)
            if other is not None:
                raise ConfigError(
                    f"decoder plug-ins {other.origin} and {plugin.origin} both take the "
                    f"name {name!r}",
                    hint=f"uninstall one of them (pip uninstall {other.package}, or pip "
                    f"uninstall {plugin.package})",
                )
            found[name] = plugin
    return found


def _load(point: EntryPoint) -> _Plugin:
    dist = point.dist
    package = dist.name if dist is not None else "(unknown package)"
    version = f" {dist.version}" if dist is not None else ""
    origin = f"{point.name!r} ({point.value}, package {package}{version})"
    try:
        info = point.load()
    except Exception as exc:  # the package's own code: anything can go wrong in it
        raise ConfigError(
            f"decoder plug-in {origin} failed to import: {type(exc).__name__}: {exc}",
            hint=_fix(package),
        ) from exc
    if not isinstance(info, DecoderInfo):
        raise ConfigError(
            f"decoder plug-in {origin} is a {type(info).__name__}, not a DecoderInfo",
            hint=f"the entry point must name an edge.decoders.registry.DecoderInfo, or "
            f"{_fix(package)}",
        )
    if info.name != point.name:
        raise ConfigError(
            f"decoder plug-in {origin} names its decoder {info.name!r}; the entry "
            "point's name must be the decoder's",
            hint=f"rename one of them in the package, or {_fix(package)}",
        )
    return _Plugin(info, origin, package)


def _fix(package: str) -> str:
    return (
        f"fix the package or uninstall it (pip uninstall {package}); it declares "
        f"the entry point in the group {GROUP}"
    )
