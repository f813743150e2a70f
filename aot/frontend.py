"""ONNX -> Graph.

Contract: `import_model(source, input_shapes)` returns a verified `Graph` whose
every tensor has a static shape and a numpy dtype, with opsets upgraded to one
canonical opset (`CANONICAL_OPSET`), initializers and Constant nodes turned
into constant tensors, and the ONNX node names kept. Shapes come from ONNX's
own per-node shape inference; where a shape depends on constant data that
inference cannot see (e.g. Reshape fed by a Shape->Concat chain), the producing
node is evaluated on its constant inputs. Anything we cannot import raises
`ModelError` with a one-line message naming the node or input and what to do.
"""

from __future__ import annotations

import math
import os
import re
from typing import Mapping

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from aot.errors import ModelError, UsageError
from aot.evaluate import CANONICAL_OPSET, evaluate_node, to_node_proto
from aot.ir import Graph, Node, Tensor, verify
from aot.passes.qdq import qoperator_form

KNOWN_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")

# Constant inputs larger than this are not handed to shape inference: shape
# arguments are small, weights are not, and serializing weights is slow.
_MAX_SHAPE_DATA = 4096

# The largest tensor aot accepts: the kernels index and count bytes in int32.
# Checked on declared shapes, before anything is allocated or evaluated.
MAX_TENSOR_BYTES = 2**31 - 1

# Element types of run-time data (not shape arithmetic, which folds away).
_DATA_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
               onnx.TensorProto.BFLOAT16, onnx.TensorProto.INT8, onnx.TensorProto.UINT8}
_INT_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16,
              onnx.TensorProto.INT8, onnx.TensorProto.UINT64, onnx.TensorProto.UINT32,
              onnx.TensorProto.UINT16, onnx.TensorProto.UINT8}


def check_tensor_size(name: str, shape, dtype, where: str) -> None:
    """Refuse a tensor over MAX_TENSOR_BYTES (Python ints: no overflow)."""
    count = 1
    for d in shape:
        count *= int(d)
    nbytes = count * np.dtype(dtype).itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise ModelError(f"{where}: tensor '{name}' of shape {list(shape)} would take "
                         f"{nbytes:,} bytes; aot supports tensors up to 2 GiB")


def _one_line(e: BaseException) -> str:
    """An exception's message on one line (ONNX's checker spreads the node over several)."""
    return " ".join(str(e).split()) or type(e).__name__


def load_proto(source: str | os.PathLike | bytes | onnx.ModelProto) -> onnx.ModelProto:
    if isinstance(source, onnx.ModelProto):
        return source
    if isinstance(source, bytes):
        return _parse(source, "model bytes", None)
    path = os.fspath(source)
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ModelError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ModelError(f"{path}: cannot read ({e.strerror})") from None
    return _parse(data, path, os.path.dirname(os.path.abspath(path)))


def _parse(data: bytes, what: str, base_dir: str | None) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # protobuf raises DecodeError or RuntimeError, version-dependent
        raise ModelError(f"{what}: not an ONNX model (the file does not parse as "
                         f"ONNX protobuf; is it truncated?)") from None
    if not model.HasField("graph") or model.ir_version <= 0:
        raise ModelError(f"{what}: not an ONNX model (no graph or no IR version)")
    external = [t for t in model.graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL]
    if base_dir is not None and external:
        for t in external:   # declared sizes first: nothing is read for an absurd one
            check_tensor_size(t.name, t.dims, _dtype(t.data_type, f"initializer '{t.name}'"),
                              f"{what}: external initializer '{t.name}'")
        try:
            onnx.external_data_helper.load_external_data_for_model(model, base_dir)
        except Exception as e:   # OSError, or onnx's ValidationError for a path it refuses
            raise ModelError(f"{what}: cannot read external weights ({_one_line(e)})") from None
    return model


def _check(model: onnx.ModelProto) -> None:
    # Exporters import domains they never use (e.g. ai.onnx.training): only
    # nodes in an unknown domain are an error.
    for node in model.graph.node:
        if node.domain not in KNOWN_DOMAINS:
            raise ModelError(f"{node.op_type} node '{node.name}' is in unknown domain "
                             f"'{node.domain}'; aot knows "
                             f"{', '.join(repr(d) for d in KNOWN_DOMAINS)}")
    try:
        onnx.checker.check_model(model)
    except Exception as e:   # ValidationError, or the inference errors of its shape checks
        raise ModelError(f"invalid ONNX model: {_one_line(e)}") from None


def _upgrade(model: onnx.ModelProto) -> onnx.ModelProto:
    version = next((op.version for op in model.opset_import if op.domain in ("", "ai.onnx")), None)
    if version is None or version == CANONICAL_OPSET:
        return model
    if version > CANONICAL_OPSET:
        raise ModelError(f"model uses opset {version}; this aot knows opsets up to "
                         f"{CANONICAL_OPSET} (upgrade aot)")
    try:
        return onnx.version_converter.convert_version(model, CANONICAL_OPSET)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot upgrade the model from opset {version} to "
                         f"{CANONICAL_OPSET}: {first}") from None


def _attrs(node: onnx.NodeProto) -> dict:
    attrs = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        attrs[a.name] = value
    return attrs


def _dtype(elem_type: int, where: str) -> np.dtype:
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        raise ModelError(f"{where}: unsupported element type "
                         f"{onnx.TensorProto.DataType.Name(elem_type)}") from None


def _static_shape(type_proto: onnx.TypeProto) -> tuple[int, ...] | None:
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    dims = []
    for d in type_proto.tensor_type.shape.dim:
        if not d.HasField("dim_value") or d.dim_value < 0:
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


def _shape_text(type_proto: onnx.TypeProto) -> str:
    if not type_proto.tensor_type.HasField("shape"):
        return "unknown rank"
    return "[" + ",".join(d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?")
                          for d in type_proto.tensor_type.shape.dim) + "]"


def import_model(source, input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Graph:
    proto = load_proto(source)
    _check(proto)
    proto = _upgrade(proto)
    return _to_graph(proto, dict(input_shapes or {}))


def _to_graph(model: onnx.ModelProto, input_shapes: dict[str, tuple[int, ...]]) -> Graph:
    g = model.graph
    opsets = {op.domain or "": op.version for op in model.opset_import}
    tensors: dict[str, Tensor] = {}

    for init in g.initializer:
        if any(d < 0 for d in init.dims):
            raise ModelError(f"initializer '{init.name}' has a negative dimension {list(init.dims)}")
        check_tensor_size(init.name, init.dims, _dtype(init.data_type, f"initializer '{init.name}'"),
                          f"initializer '{init.name}'")
        try:
            data = numpy_helper.to_array(init)
        except Exception as e:
            raise ModelError(f"initializer '{init.name}' cannot be read: {e}") from None
        tensors[init.name] = Tensor.const(init.name, data)

    inputs = []
    for vi in g.input:
        if vi.name in tensors:
            continue  # old-style models list initializers as inputs too
        dtype = _dtype(vi.type.tensor_type.elem_type, f"input '{vi.name}'")
        declared = [d.dim_value for d in vi.type.tensor_type.shape.dim if d.HasField("dim_value")]
        if vi.name not in input_shapes and any(d < 0 for d in declared):
            raise ModelError(f"input '{vi.name}' has a negative dimension {_shape_text(vi.type)}")
        shape = input_shapes.pop(vi.name, None) or _static_shape(vi.type)
        if shape is None:
            raise ModelError(f"input '{vi.name}' has dynamic shape {_shape_text(vi.type)}; "
                             f"fix it with --input-shape {vi.name}=" +
                             ",".join(str(d.dim_value) if d.dim_value > 0 else "1"
                                      for d in vi.type.tensor_type.shape.dim))
        if any(d <= 0 for d in shape):
            raise ModelError(f"input '{vi.name}' has a zero or negative dimension "
                             f"{list(shape)}")
        check_tensor_size(vi.name, shape, dtype, f"input '{vi.name}'")
        tensors[vi.name] = Tensor(vi.name, tuple(shape), dtype)
        inputs.append(vi.name)
    if input_shapes:
        raise UsageError(f"--input-shape names no model input: {', '.join(sorted(input_shapes))} "
                         f"(inputs: {', '.join(inputs)})")

    hints = _whole_model_hints(model, {n: tensors[n] for n in inputs})
    # Values known at compile time that are not constants in the graph (yet):
    # Shape of a static tensor and small computations on it. Shape inference
    # needs them; the 'fold' pass turns them into constants later.
    known: dict[str, np.ndarray] = {}
    nodes = []
    used_names: set[str] = set()
    for index, onode in enumerate(g.node):
        name = onode.name or f"{onode.op_type}_{index}"
        if name in used_names:
            name = f"{name}_{index}"
        used_names.add(name)
        node = Node(onode.op_type, tuple(onode.input), tuple(onode.output), _attrs(onode),
                    name, "" if onode.domain == "ai.onnx" else onode.domain)
        for i in node.inputs:
            if i and i not in tensors:
                raise ModelError(f"{node.describe()} reads '{i}', which no node, input "
                                 f"or initializer defines (graph not in topological order, "
                                 f"or a missing initializer)")
        if node.op == "Constant" and not node.domain:
            value = _evaluate(node, [])[0]
            tensors[node.outputs[0]] = Tensor.const(node.outputs[0], value)
            continue
        for out, t in _infer_outputs(node, tensors, opsets, hints, known).items():
            if out in tensors:
                raise ModelError(f"{node.describe()} redefines tensor '{out}'")
            tensors[out] = t
        nodes.append(node)

    if not g.output:
        raise ModelError("the graph has no outputs; nothing to compute")
    for vo in g.output:
        if vo.name not in tensors:
            raise ModelError(f"graph output '{vo.name}' is never produced")
    name = re.sub(r"\W", "_", g.name) or "model"
    graph = Graph(tuple(nodes), tensors, tuple(inputs), tuple(o.name for o in g.output), name)
    graph = graph.replace()  # drop unused initializers
    verify(graph)
    return graph


def _evaluate(node: Node, values) -> list[np.ndarray]:
    """evaluate_node, with its failures (including running out of memory) as ModelError."""
    try:
        return evaluate_node(node, values)
    except Exception as e:   # MemoryError included
        raise ModelError(f"{node.describe()}: cannot evaluate it on its constant inputs: "
                         f"{_one_line(e)[:200]}") from None


def _whole_model_hints(model: onnx.ModelProto, inputs: Mapping[str, Tensor]) -> dict[str, onnx.TypeProto]:
    """Output types from whole-model inference: covers domains without per-node schemas."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in m.graph.input:
        if vi.name in inputs:
            t = inputs[vi.name]
            vi.type.CopyFrom(helper.make_tensor_type_proto(vi.type.tensor_type.elem_type, list(t.shape)))
    try:
        plain = shape_inference.infer_shapes(m)
    except Exception:
        return {}
    hints = {vi.name: vi.type for vi in list(plain.graph.value_info) + list(plain.graph.output)}
    # Data propagation (shapes computed from values) only helps where a shape is
    # still unknown, and it materializes integer tensors: Range(0, 2**40) would
    # exhaust memory. Use it only when needed and every integer tensor is small.
    if all(_static_shape(t) is not None for t in hints.values()):
        return hints
    for t in hints.values():
        shape = _static_shape(t)
        if t.tensor_type.elem_type in _INT_TYPES and (shape is None or
                                                      math.prod(shape) > _MAX_SHAPE_DATA):
            return hints
    try:
        m = shape_inference.infer_shapes(m, data_prop=True)
    except Exception:
        return hints
    return {vi.name: vi.type for vi in list(m.graph.value_info) + list(m.graph.output)}


def _infer_qoperator(node: Node, in_tensors, opsets) -> dict[str, Tensor]:
    """Shapes of com.microsoft QOperator ops (onnx has no schema for them): those
    of the float op they stand for; the dtype is the output zero point's."""
    op, quantized, (_, yz) = qoperator_form(node)
    fake = Node(op, tuple(in_tensors[x].name for x, _, _ in quantized), node.outputs,
                {k: v for k, v in node.attrs.items() if k not in ("channels_last", "opset")},
                node.name)
    types = {t.name: helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, list(t.shape))
             for t in (in_tensors[x] for x, _, _ in quantized)}
    try:
        out = shape_inference.infer_node_outputs(
            onnx.defs.get_schema(op, CANONICAL_OPSET), to_node_proto(fake), types)
    except Exception as e:
        raise ModelError(f"{node.describe()}: shape inference failed: {e}") from None
    shape = _static_shape(out[node.outputs[0]])
    zp = in_tensors[yz] if len(in_tensors) > yz else None
    if shape is None or zp is None:
        raise ModelError(f"{node.describe()}: cannot infer its output shape and type")
    return {node.outputs[0]: Tensor(node.outputs[0], shape, zp.dtype)}


def _small_value(t: Tensor | None, known: dict[str, np.ndarray]) -> np.ndarray | None:
    if t is None:
        return None
    value = t.data if t.is_const else known.get(t.name)
    return value if value is not None and value.size <= _MAX_SHAPE_DATA else None


def _small_outputs(node: Node, types: dict, hints: dict) -> bool:
    """Every output has a known static shape of at most _MAX_SHAPE_DATA elements."""
    for out in node.outputs:
        tp = types.get(out) or hints.get(out) if out else None
        shape = _static_shape(tp) if tp is not None else None
        if out and (shape is None or math.prod(shape) > _MAX_SHAPE_DATA):
            return False
    return True


def _infer_outputs(node: Node, tensors: dict[str, Tensor], opsets: dict[str, int],
                   hints: dict[str, onnx.TypeProto], known: dict[str, np.ndarray]) -> dict[str, Tensor]:
    in_tensors = [tensors[i] if i else None for i in node.inputs]
    values = [_small_value(t, known) for t in in_tensors]
    types: dict[str, onnx.TypeProto] = {}
    try:
        schema = onnx.defs.get_schema(node.op, opsets.get(node.domain, CANONICAL_OPSET), node.domain)
    except Exception:
        schema = None
    if schema is None and qoperator_form(node) is not None:
        return _infer_qoperator(node, in_tensors, opsets)
    if schema is not None:
        in_types = {}
        in_data = {}
        for t, v in zip(in_tensors, values):
            if t is None:
                continue
            in_types[t.name] = helper.make_tensor_type_proto(
                helper.np_dtype_to_tensor_dtype(t.dtype), list(t.shape))
            if v is not None:
                in_data[t.name] = numpy_helper.from_array(np.asarray(v), t.name)
        try:
            types = shape_inference.infer_node_outputs(
                schema, to_node_proto(node), in_types, in_data,
                opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"{node.describe()}: shape inference failed: {first}") from None
    result = {}
    for out in node.outputs:   # refuse absurd shapes before anything evaluates the node
        tp = types.get(out) or hints.get(out)
        if tp is None or not tp.HasField("tensor_type"):
            continue
        dims = [d.dim_value for d in tp.tensor_type.shape.dim if d.HasField("dim_value")]
        if any(d < 0 for d in dims):
            raise ModelError(f"{node.describe()}: output '{out}' gets a negative dimension "
                             f"{_shape_text(tp)}; check the node's attributes")
        if 0 in dims and tp.tensor_type.elem_type in _DATA_TYPES and \
                any(t is not None and not t.is_const for t in in_tensors):
            raise ModelError(f"{node.describe()}: output '{out}' would be empty (shape "
                             f"{_shape_text(tp)}); aot does not compile zero-size tensors")
        if tp.tensor_type.elem_type:
            check_tensor_size(out, dims, _dtype(tp.tensor_type.elem_type, node.describe()),
                              node.describe())
    evaluated = None
    if node.op in ("Shape", "Size") and not node.domain and in_tensors[0] is not None:
        from aot.passes.fold import shape_value
        evaluated = {node.outputs[0]: shape_value(node, in_tensors[0].shape)}
    elif all(t is None or v is not None for t, v in zip(in_tensors, values)) and \
            (any(t is not None and not t.is_const for t in in_tensors)
             or _small_outputs(node, types, hints)):
        # Small all-constant nodes too: a Cast of a Constant may feed a shape.
        evaluated = dict(zip(node.outputs, _evaluate(node, values)))
    if evaluated is not None:
        known.update(evaluated)
    for out in node.outputs:
        if not out:
            continue
        tp = types.get(out) or hints.get(out)
        if tp is not None and _static_shape(tp) is None and out in hints and \
                _static_shape(hints[out]) is not None:
            tp = hints[out]   # a shape the model declares (value_info), e.g. a run-time Range's
        shape = _static_shape(tp) if tp is not None else None
        if shape is None or tp is None or not tp.tensor_type.elem_type:
            if evaluated is None and all(t is None or t.is_const for t in in_tensors):
                evaluated = dict(zip(node.outputs, _evaluate(
                    node, [t.data if t is not None else None for t in in_tensors])))
            if evaluated is not None:
                value = evaluated[out]
                check_tensor_size(out, value.shape, value.dtype, node.describe())
                result[out] = Tensor(out, tuple(int(d) for d in value.shape), value.dtype)
                continue
            if node.op == "Range" and not node.domain:
                raise ModelError(f"{node.describe()}: its length depends on run-time values "
                                 f"(start, limit or delta is not a constant): a dynamic "
                                 f"shape; make them constants or declare the output's "
                                 f"length in the model's value_info")
            raise ModelError(f"{node.describe()}: output '{out}' has a dynamic shape "
                             f"{_shape_text(tp) if tp is not None else '(unknown)'}; "
                             f"fix the model inputs' shapes with --input-shape NAME=d0,d1,...")
        result[out] = Tensor(out, shape, _dtype(tp.tensor_type.elem_type, node.describe()))
    return result
