"""Load the user's ``.keras`` model safely and read the facts conversion needs from it.

Safety: ``.keras`` files can carry Python code (``Lambda`` layers store bytecode).
Keras refuses to run it in ``safe_mode`` and we keep that default: a model file from
the internet should not execute code on the workstation just by being converted.
``--trust-model`` lifts it, and Keras's ValueError is translated into a message that
says so.

Formats: ``.keras`` (Keras 3) and legacy Keras 2 ``.h5``/``.hdf5`` (loaded by Keras 3's
legacy HDF5 path, ``compile=False`` so a Keras 2 optimizer or loss that no longer exists
does not matter). SavedModel folders are handled in ``converter.source_model``.

Custom layers: ``--custom-objects MODULE`` imports a module (a dotted name, or a path
to a ``.py`` file) before loading, so its ``@keras.saving.register_keras_serializable``
decorators run. The registry key is ``package>ClassName``; passing classes by bare name
does not work (measured, see the int8 toolchain notes), so importing is the one way.
The working directory is put on ``sys.path`` first because the ``edge`` console script,
unlike ``python -m``, does not do it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from converter.quiet import import_tensorflow, native_output_captured
from edge.errors import ConversionError

SUFFIXES = (".keras", ".h5", ".hdf5")


def import_custom_objects(spec: str) -> None:
    """Import the module that registers the model's custom layers."""
    path = Path(spec)
    try:
        if path.suffix == ".py":
            if not path.is_file():
                raise ConversionError(
                    f"--custom-objects file {spec!r} does not exist",
                    hint="give a .py file or an importable module name",
                )
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or module_spec.loader is None:
                raise ConversionError(f"--custom-objects {spec!r} cannot be imported as a module")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[path.stem] = module
            module_spec.loader.exec_module(module)
            return
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        importlib.import_module(spec)
    except ConversionError:
        raise
    except Exception as exc:
        # Anything the user's module raises on import is theirs to fix: show it as is.
        raise ConversionError(
            f"importing --custom-objects {spec!r} failed: {type(exc).__name__}: {exc}",
            hint="the module must be importable from the current directory (or give a path "
            "to a .py file) and must import cleanly",
        ) from exc


def load_keras_model(path: Path, *, trust: bool = False, custom_objects: str | None = None) -> Any:
    """Load ``path`` for inference (no optimizer), refusing embedded code unless trusted."""
    if not path.exists():
        raise ConversionError(
            f"model file {str(path)!r} does not exist",
            hint="give the path of a Keras model saved with model.save('NAME.keras')",
        )
    if path.is_dir() or path.suffix.lower() not in SUFFIXES:
        raise ConversionError(
            f"{str(path)!r} is not a Keras model file; expected one of {', '.join(SUFFIXES)} "
            "or a SavedModel folder",
            hint="save the model with model.save('NAME.keras') and convert that file",
        )
    if custom_objects:
        import_custom_objects(custom_objects)
    import_tensorflow()
    import keras

    try:
        with native_output_captured(), warnings.catch_warnings():
            # Keras 2 files put ``batch_input_shape`` on a Sequential's first layer; Keras 3
            # loads them correctly but warns the user about a choice they did not make.
            warnings.filterwarnings(
                "ignore", message="Do not pass an `input_shape`", category=UserWarning
            )
            return keras.saving.load_model(path, compile=False, safe_mode=not trust)
    except ValueError as exc:
        if "safe_mode" in str(exc):
            raise ConversionError(
                f"{str(path)!r} contains Python code (a Lambda layer or a Python function), "
                "which Keras will not run unless the file is trusted: loading it would "
                "execute code stored in the model file",
                hint="replace the Lambda with a registered custom layer, or pass "
                "--trust-model if you trust where the file came from",
            ) from exc
        raise ConversionError(f"cannot load {str(path)!r}: {_first_line(exc)}") from exc
    except TypeError as exc:
        missing = re.search(r"Could not locate (?:class|function) '([^']+)'", str(exc))
        if missing:
            raise ConversionError(
                f"{str(path)!r} uses the custom object {missing.group(1)!r}, which is not "
                "registered",
                hint="pass --custom-objects MODULE naming the module that defines it with "
                "@keras.saving.register_keras_serializable()",
            ) from exc
        raise ConversionError(f"cannot load {str(path)!r}: {_first_line(exc)}") from exc
    except OSError as exc:
        raise ConversionError(f"cannot read {str(path)!r}: {exc}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
