"""TOML in, a validated ``RunConfig`` out, or a ``ConfigError`` (exit 78) that names
the key, its table, its line and the nearest allowed key.

Flags on the command line are applied on top of the file as plain dict updates
*before* validation, so a flag and a config key go through exactly the same checks.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from edge.bounded import MAX_CONFIG_BYTES, check_depth, check_nesting, read_limited
from edge.config.paths import models_in, resolve_relative_paths
from edge.decoders.registry import all_keys, check_settings, decoders, owners_of
from edge.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 on older Pi OS images
    import tomli as tomllib


from edge.config.run import RunConfig


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Return the parsed table and the raw text (kept to point at lines in errors)."""
    try:
        raw = read_limited(path, what="config file", limit=MAX_CONFIG_BYTES)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text (byte {exc.start}, line {line})",
            hint="TOML files are UTF-8: save it as UTF-8 (iconv -f latin1 -t utf-8), or "
            "check that it is the config file and not a binary",
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"config {str(path)!r} is a folder, not a file", hint="give the path of the .toml file"
        ) from None
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} does not exist",
            hint="check the path, or run without --config to use the defaults",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from exc
    check_nesting(text, what=f"config file {str(path)!r}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    check_depth(data, what=f"config file {str(path)!r}")
    return data, text


def build_config(data: dict[str, Any], *, origin: str = "config", text: str = "") -> RunConfig:
    """Validate a config dict; errors name the key, its table and (with ``text``) its line."""
    _check_decoder_table(data, origin, text)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, data, origin, text)) from None


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The file (relative paths in it resolved against its folder), then the flags on top."""
    data, text = read_toml(path) if path else ({}, "")
    if path is not None:
        data = resolve_relative_paths(data, path.parent.absolute(), RunConfig)
    merged = _merge(data, overrides or {})
    return build_config(merged, origin=str(path) if path else "command line", text=text)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# A list of a million wrong items is a million errors: the first few say what is wrong.
MAX_ERRORS_SHOWN = 10


def _explain(exc: ValidationError, data: dict[str, Any], origin: str, text: str) -> str:
    lines = []
    errors = exc.errors()
    for error in errors[:MAX_ERRORS_SHOWN]:
        place, model = _walk(error["loc"], data)
        if error["type"] == "extra_forbidden":
            key = place[-1]
            table = ".".join(place[:-1]) or "the top level"
            allowed = sorted(model.model_fields) if model else []
            near = difflib.get_close_matches(key, allowed, n=1)
            line = _line_of(text, key, place[0].split("[")[0] if len(place) > 1 else "")
            where = f" (line {line})" if line else ""
            message = f"{origin}: unknown key {key!r} in [{table}]{where}"
            if near:
                message += f"; did you mean {near[0]!r}?"
            if allowed:
                message += f" Allowed keys there: {', '.join(allowed)}"
            lines.append(message)
        elif error["type"] == "list_type" and isinstance(error["input"], dict) and place:
            lines.append(_one_table_for_a_list(place, origin, text))
        else:
            field = ".".join(place) or "the top level"
            lines.append(f"{origin}: {field}: {error['msg']}{_range_of(model, place, error)}")
    if len(errors) > MAX_ERRORS_SHOWN:
        lines.append(f"{origin}: ... and {len(errors) - MAX_ERRORS_SHOWN} more errors")
    return "\n".join(lines)


_NUMBER_ERRORS = {
    "finite_number",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
}


def _range_of(model: type[BaseModel] | None, place: list[str], error: Any) -> str:
    """`` (allowed: 0 < x <= 3600)`` for a number out of its range, NaN or infinity."""
    if error["type"] not in _NUMBER_ERRORS or model is None or not place:
        return ""
    field = model.model_fields.get(place[-1].split("[")[0])
    if field is None:
        return ""
    low = high = ""
    for bound in field.metadata:
        for name, text in (("ge", "{} <= "), ("gt", "{} < ")):
            if getattr(bound, name, None) is not None:
                low = text.format(getattr(bound, name))
        for name, text in (("le", " <= {}"), ("lt", " < {}")):
            if getattr(bound, name, None) is not None:
                high = text.format(getattr(bound, name))
    if not (low or high):
        return ""
    return f" (allowed: {low}{place[-1]}{high})"


def _one_table_for_a_list(place: list[str], origin: str, text: str) -> str:
    """``[sinks]`` where ``[[sinks]]`` is meant: TOML reads the first as one table."""
    key = place[-1]
    header = re.search(rf"^[ \t]*\[[ \t]*{re.escape(key)}[ \t]*\]", text, re.MULTILINE)
    where = f" (line {text.count(chr(10), 0, header.start()) + 1})" if header else ""
    field = ".".join(place)
    return (
        f"{origin}: {field} is a list of tables: write [[{key}]]{where} instead of "
        f"[{key}], once per entry"
    )


def _check_decoder_table(data: dict[str, Any], origin: str, text: str) -> None:
    """Decoder settings: all of them when the name is known, else keys no decoder has."""
    table = data.get("decoder")
    if not isinstance(table, dict):
        return
    settings = {key: value for key, value in table.items() if key != "name"}
    name = table.get("name")
    if isinstance(name, str):
        try:
            check_settings(name, settings)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: [decoder]: {exc.message}", hint=exc.hint) from None
        return
    for key in settings:
        if owners_of(key):  # the plug-ins are loaded only for a key no built-in decoder has
            continue
        near = difflib.get_close_matches(key, sorted(all_keys()), n=1)
        line = _line_of(text, key, "decoder")
        message = f"{origin}: unknown key {key!r} in [decoder]" + (
            f" (line {line})" if line else ""
        )
        if near:
            message += f"; did you mean {near[0]!r}?"
        per_decoder = "; ".join(
            f"{d.name}: {', '.join(sorted(d.params.model_fields))}"
            for d in sorted(decoders(), key=lambda d: d.name)
        )
        raise ConfigError(
            message, hint=f"[decoder] takes name and the settings of that decoder: {per_decoder}"
        )


def _walk(loc: tuple[int | str, ...], data: Any) -> tuple[list[str], type[BaseModel] | None]:
    """Follow an error location through the data, skipping the union tags pydantic adds.

    Returns the readable place (``["sinks[0]", "pth"]``) and the model class that holds
    the last key, so the message can list the keys that are allowed there.
    """
    place: list[str] = []
    model: type[BaseModel] | None = RunConfig
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            place[-1] = f"{place[-1]}[{part}]"
            node = node[part] if part < len(node) else None
            continue
        if isinstance(node, dict) and part in node:
            place.append(str(part))
            if model is not None and isinstance(node[part], (dict, list)):
                model = _child_model(model, str(part), node[part])
            node = node[part]
            continue
        if isinstance(node, dict) and isinstance(part, str) and node.get("kind") == part:
            continue  # the discriminator tag of a union member
        place.append(str(part))
    return place, model


def _child_model(model: type[BaseModel], key: str, value: Any) -> type[BaseModel] | None:
    field = model.model_fields.get(key)
    if field is None:
        return None
    item = value[0] if isinstance(value, list) and value else value
    kind = item.get("kind") if isinstance(item, dict) else None
    for candidate in models_in(field.annotation):
        kind_field = candidate.model_fields.get("kind")
        if kind is None or kind_field is None or kind_field.default == kind:
            return candidate
    return None


def _line_of(text: str, key: str, table: str) -> int | None:
    """Best-effort line of ``key``, searched after the header of its top-level table."""
    start = 0
    if table:
        header = re.search(rf"^\s*\[\[?\s*{re.escape(table)}\b", text, re.MULTILINE)
        start = header.end() if header else 0
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", re.MULTILINE)
    match = pattern.search(text, start)
    return text.count("\n", 0, match.start()) + 1 if match else None
