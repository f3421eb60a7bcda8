"""Look inside a model file before anything in it can execute.

TensorFlow's security policy says it plainly: a model is a program. ``keras.load_model``
builds the layers a config names (and ``safe_mode`` has been bypassed more than once), and
a SavedModel's graph runs whatever ops it holds when the converter computes the float
reference: a ``tf.io.write_file`` op writes a file of the author's choosing. So
``edge convert`` reads the file as data first and refuses, without ``--trust-model``,
anything that is more than layers and math:

- ``.keras`` (a zip with ``config.json``) and legacy ``.h5`` (the ``model_config``
  attribute): every ``class_name`` in the config tree. ``Lambda`` layers and Python
  functions (stored bytecode) are refused; so is a class from a module outside Keras
  (unless ``--custom-objects`` names the user's own module), and always one whose module
  is ``os``, ``subprocess``, ``builtins`` and the like.
- SavedModel folders (``saved_model.pb``): every op of every graph and of every function
  in its function library must be in ``SAFE_OPS``, the pure tensor math and bookkeeping
  that Keras exports. The checkpoint ops a SavedModel always carries for its variables
  (``SaveV2``, ``RestoreV2``, ...) are allowed only in the functions the saver uses, never
  in the serving path.

Parsing here uses ``zipfile``, ``json``, ``h5py`` (attributes only) and the protobuf
message classes: no layer, op or function of the file is built or run.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge.errors import ConversionError

_DANGEROUS_MODULES = (
    "os",
    "posix",
    "nt",
    "subprocess",
    "builtins",
    "__builtin__",
    "sys",
    "shutil",
    "socket",
    "importlib",
    "pickle",
    "marshal",
    "ctypes",
    "pty",
    "runpy",
    "code",
    "urllib",
    "http",
    "requests",
    "multiprocessing",
)
_CODE_CLASSES = {"Lambda", "__lambda__", "__function__", "function", "TFOpLambda"}

# Ops a Keras/TF model needs for inference, plus variable and control bookkeeping.
SAFE_OPS = frozenset(
    {
        "Abs",
        "Add",
        "AddN",
        "AddV2",
        "All",
        "Any",
        "ArgMax",
        "ArgMin",
        "Assert",
        "AssignVariableOp",
        "AvgPool",
        "AvgPool3D",
        "BatchMatMul",
        "BatchMatMulV2",
        "BatchMatMulV3",
        "BatchToSpaceND",
        "BiasAdd",
        "Bitcast",
        "BroadcastArgs",
        "BroadcastTo",
        "Cast",
        "Ceil",
        "CheckNumerics",
        "ClipByValue",
        "Complex",
        "ComplexAbs",
        "Concat",
        "ConcatV2",
        "Const",
        "Conv2D",
        "Conv2DBackpropInput",
        "Conv3D",
        "Conv3DBackpropInputV2",
        "Cos",
        "Cosh",
        "Cumprod",
        "Cumsum",
        "DepthToSpace",
        "DepthwiseConv2dNative",
        "DepthwiseConv2dNativeBackpropInput",
        "DisableCopyOnRead",
        "Div",
        "DivNoNan",
        "Einsum",
        "Elu",
        "Enter",
        "Equal",
        "Erf",
        "Erfc",
        "Exit",
        "Exp",
        "ExpandDims",
        "Expm1",
        "FakeQuantWithMinMaxArgs",
        "FakeQuantWithMinMaxVars",
        "Fill",
        "Floor",
        "FloorDiv",
        "FloorMod",
        "FusedBatchNorm",
        "FusedBatchNormV3",
        "GatherNd",
        "GatherV2",
        "Greater",
        "GreaterEqual",
        "HardSwish",
        "Identity",
        "IdentityN",
        "If",
        "Imag",
        "IsFinite",
        "IsInf",
        "IsNan",
        "LeakyRelu",
        "LeftShift",
        "Less",
        "LessEqual",
        "LinSpace",
        "Log",
        "Log1p",
        "LogSoftmax",
        "LogicalAnd",
        "LogicalNot",
        "LogicalOr",
        "LoopCond",
        "MatMul",
        "MatrixBandPart",
        "MatrixDiag",
        "MatrixDiagV3",
        "Max",
        "MaxPool",
        "MaxPool3D",
        "MaxPoolV2",
        "Maximum",
        "Mean",
        "Merge",
        "Min",
        "Minimum",
        "MirrorPad",
        "Mod",
        "Mul",
        "Neg",
        "NextIteration",
        "NoOp",
        "NonMaxSuppressionV3",
        "NonMaxSuppressionV4",
        "NonMaxSuppressionV5",
        "NotEqual",
        "OneHot",
        "OnesLike",
        "Pack",
        "Pad",
        "PadV2",
        "PartitionedCall",
        "Placeholder",
        "PlaceholderWithDefault",
        "Pow",
        "Prod",
        "Range",
        "Rank",
        "ReadVariableOp",
        "Real",
        "RealDiv",
        "Reciprocal",
        "Relu",
        "Relu6",
        "Reshape",
        "ResizeBilinear",
        "ResizeNearestNeighbor",
        "ReverseV2",
        "RightShift",
        "Rint",
        "Round",
        "Rsqrt",
        "ScatterNd",
        "Select",
        "SelectV2",
        "Selu",
        "Shape",
        "ShapeN",
        "Sigmoid",
        "Sign",
        "Sin",
        "Sinh",
        "Size",
        "Slice",
        "Softmax",
        "Softplus",
        "Softsign",
        "SpaceToBatchND",
        "SpaceToDepth",
        "Split",
        "SplitV",
        "Sqrt",
        "Square",
        "SquaredDifference",
        "Squeeze",
        "StatefulPartitionedCall",
        "StatelessIf",
        "StatelessWhile",
        "StopGradient",
        "StridedSlice",
        "Sub",
        "Sum",
        "Switch",
        "Tan",
        "Tanh",
        "TensorScatterUpdate",
        "Tile",
        "TopKV2",
        "Transpose",
        "Unpack",
        "VarHandleOp",
        "VarIsInitializedOp",
        "Where",
        "While",
        "ZerosLike",
        "_Arg",
        "_Retval",
    }
)
# What every SavedModel carries to save and restore its variables; file I/O, so it is
# allowed only in the saver's own functions.
CHECKPOINT_OPS = frozenset(
    {
        "SaveV2",
        "RestoreV2",
        "MergeV2Checkpoints",
        "ShardedFilename",
        "StringJoin",
        "StaticRegexFullMatch",
    }
)


def inspect_model(path: Path, *, trust: bool, custom_objects: str | None = None) -> None:
    """Refuse (``ConversionError``) a model holding code or I/O, unless ``trust``."""
    if trust:
        return
    if path.is_dir():
        found = _saved_model_findings(path)
    elif path.suffix.lower() == ".keras":
        found = _keras_findings(_keras_config(path), custom_objects)
    elif path.suffix.lower() in (".h5", ".hdf5"):
        found = _keras_findings(_h5_config(path), custom_objects)
    else:
        return  # load_source_model names the accepted kinds
    if found:
        shown = "; ".join(sorted(set(found))[:8]) + (" ..." if len(set(found)) > 8 else "")
        raise ConversionError(
            f"{str(path)!r} holds more than layers and math, which would run when it is "
            f"loaded or converted: {shown}",
            hint="convert only models you trust; if you made this one and trust it, pass "
            "--trust-model",
        )


def _keras_config(path: Path) -> Any:
    if not path.is_file():
        return None  # missing: load_keras_model says so
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except zipfile.BadZipFile:
        raise ConversionError(
            f"{str(path)!r} is not a .keras file: a .keras model is a zip archive and this "
            "file is not one (it may be truncated, or another format renamed)",
            hint="save the model again with model.save('NAME.keras'), or give a legacy "
            "file the .h5 suffix",
        ) from None
    except KeyError:
        raise ConversionError(
            f"{str(path)!r} is a zip but not a .keras model (no config.json in it)",
            hint="save the model with model.save('NAME.keras')",
        ) from None
    except (ValueError, OSError) as exc:
        raise ConversionError(
            f"cannot read the config of {str(path)!r}: {exc}",
            hint="save the model again with model.save('NAME.keras')",
        ) from exc


def _h5_config(path: Path) -> Any:
    if not path.is_file():
        return None
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
    except OSError as exc:
        raise ConversionError(
            f"{str(path)!r} is not a readable HDF5 model: {exc}",
            hint="save the model again with model.save('NAME.keras')",
        ) from exc
    if raw is None:
        return None  # weights only: load_keras_model explains
    try:
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
    except ValueError as exc:
        raise ConversionError(f"the model config in {str(path)!r} is not JSON: {exc}") from exc


def _keras_findings(config: Any, custom_objects: str | None) -> list[str]:
    found = []
    for node in _dicts(config):
        name = node.get("class_name")
        if not isinstance(name, str):
            continue
        module = node.get("module")
        module = module if isinstance(module, str) else ""
        if name in _CODE_CLASSES:
            found.append(f"{name} (Python code stored in the file)")
        elif module.split(".")[0] in _DANGEROUS_MODULES:
            found.append(f"{name} from module {module!r}")
        elif module and module.split(".")[0] not in ("keras", "tf_keras", "tensorflow"):
            if not custom_objects:
                found.append(f"custom class {name} from module {module!r}")
        elif not module and node.get("registered_name") not in (None, name) and not custom_objects:
            found.append(f"custom class {node.get('registered_name')}")
    return found


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)


def _saved_model_findings(folder: Path) -> list[str]:
    pb = folder / "saved_model.pb"
    if not pb.is_file():
        return []  # load_source_model says it is not a SavedModel
    from converter.quiet import import_tensorflow

    import_tensorflow()
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    message = saved_model_pb2.SavedModel()
    try:
        message.ParseFromString(pb.read_bytes())
    except DecodeError as exc:
        raise ConversionError(
            f"{str(pb)!r} is not a SavedModel protobuf: {exc}",
            hint="export the model again with model.export(...)",
        ) from exc
    found: list[str] = []
    for meta in message.meta_graphs:
        graph = meta.graph_def
        functions = {f.signature.name: f for f in graph.library.function}
        saver = _saver_functions(meta, functions)
        for node in graph.node:
            found.extend(_op_finding(node.op, "the graph", allow_io=False))
        for name, function in functions.items():
            for node in function.node_def:
                found.extend(_op_finding(node.op, f"function {name}", allow_io=name in saver))
    return found


def _op_finding(op: str, where: str, *, allow_io: bool) -> list[str]:
    if op in SAFE_OPS or (allow_io and op in CHECKPOINT_OPS):
        return []
    return [f"op {op} in {where}"]


def _saver_functions(meta: Any, functions: dict[str, Any]) -> set[str]:
    """Functions reached from the saver's save/restore ops (and only from them)."""
    roots: set[str] = set()
    saver = meta.saver_def
    targets = {saver.save_tensor_name.split(":")[0], saver.restore_op_name.split(":")[0]}
    for node in meta.graph_def.node:
        if node.name in targets or "saver" in node.name.lower() or node.name.startswith("save"):
            roots.update(_called(node))
    # Functions named by TF's checkpoint machinery (tf.train.Checkpoint save/restore).
    roots.update(
        name
        for name in functions
        if any(part in name for part in ("_save_fn", "_restore_fn", "save_fn", "restore_fn"))
    )
    reached: set[str] = set()
    while roots:
        name = roots.pop()
        if name in reached or name not in functions:
            continue
        reached.add(name)
        for node in functions[name].node_def:
            roots.update(_called(node))
    return reached


def _called(node: Any) -> set[str]:
    names = set()
    for attr in node.attr.values():
        if attr.func.name:
            names.add(attr.func.name)
        for func in attr.list.func:
            names.add(func.name)
    return names
