"""``edge inspect``: a model's manifest and tensors, as text or JSON.

Without a manifest it also says which decoder ``edge run`` would pick for the outputs,
and what Ultralytics' own metadata in the file says (``edge.model.ultralytics``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge.errors import EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inspect = commands.add_parser("inspect", help="show a model's manifest and tensors")
    inspect.add_argument("model", type=Path, help=".tflite model")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.add_argument(
        "--no-model-probe",
        action="store_true",
        help="load the model without first trying it in a limited child "
        "process (only for models you trust)",
    )
    inspect.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.model.backends.litert import LiteRTBackend
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest
    from edge.model.verify.probe import verify_model

    model_file = read_model_file(args.model)
    if not args.no_model_probe:
        verify_model(model_file)
    raw = model_file.metadata.get(METADATA_NAME)
    manifest = parse_manifest(raw, origin=str(args.model)) if raw is not None else None
    backend = LiteRTBackend(model_file.content, threads=1, origin=str(args.model))
    try:  # the interpreter is freed even when reading the metadata fails
        info: dict[str, Any] = {
            "path": str(model_file.path),
            "sha256": model_file.sha256,
            "size_bytes": len(model_file.content),
            "runtime": backend.runtime,
            "manifest": manifest.model_dump(by_alias=True) if manifest else None,
            "inputs": [_tensor(t) for t in backend.inputs],
            "outputs": [_tensor(t) for t in backend.outputs],
        }
        if manifest is None:
            from edge.model.ultralytics import read_ultralytics_metadata

            ultralytics = read_ultralytics_metadata(model_file.content, model_file.path)
            if ultralytics is not None:
                info["ultralytics"] = ultralytics.to_dict()
            info["decoder_guess"] = _decoder_guess(backend)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    print(f"{info['path']}  ({info['size_bytes']:,} bytes, runtime {info['runtime']})")
    _print_manifest(info["manifest"])
    found = info.get("ultralytics")
    if found:
        print(
            f"  Ultralytics metadata: task {found['task']}, {len(found['names'])} names "
            f"{found['names'][:10]}{' ...' if len(found['names']) > 10 else ''}, imgsz "
            f"{found['imgsz']}, stride {found['stride']}; edge run takes its names as labels"
            + (f" and decoder {found['decoder']}" if found["decoder"] else "")
        )
    guess = info.get("decoder_guess")
    if guess:
        print(f"  its outputs fit decoder {guess['name'] or '(none)'}: {guess['reason']}")
    for kind in ("inputs", "outputs"):
        for t in info[kind]:
            print(
                f"  {kind[:-1]:6} {t['name']:40} {t['shape']!s:18} {t['dtype']:8} "
                f"scale {t['scale']:.6g} zero_point {t['zero_point']}"
            )
    return EXIT_OK


def _decoder_guess(backend: Any) -> dict[str, str]:
    """What `edge run` would pick for this model without a manifest or --decoder."""
    from edge.decoders.heads import guess_decoder

    name, reason = guess_decoder(backend.outputs, backend.inputs[0].shape)
    return {"name": name, "reason": reason}


def _print_manifest(manifest: dict[str, Any] | None) -> None:
    if manifest is None:
        print(
            "  no edge manifest: run it with --task (and --labels), or convert it with "
            "`edge convert`"
        )
        return
    print(
        f"  name {manifest['name']}  task {manifest['task']}  decoder "
        f"{manifest['decoder']['name']} {manifest['decoder']['params']}"
    )
    print(f"  labels {manifest['labels']}")
    print(f"  input recipe {manifest['input']}")
    if manifest.get("quantization"):
        print(f"  quantization {manifest['quantization']}")
    if manifest.get("accuracy"):
        print(f"  accuracy {manifest['accuracy']}")


def _tensor(spec: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "shape": list(spec.shape),
        "dtype": spec.dtype,
        "scale": spec.scale,
        "zero_point": spec.zero_point,
    }
