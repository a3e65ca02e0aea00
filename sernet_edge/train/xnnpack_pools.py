"""Full-int8 average pooling rewritten so that XNNPACK runs the whole graph.

XNNPACK's LiteRT delegate takes AVERAGE_POOL_2D in float32 only. In a full-int8 Light-SERNet
the 7 pools fall back to LiteRT's built-in kernel and split the graph into 6 delegate
partitions, which makes int8 no faster than float on a CPU with VNNI
(benchmarks/results/int8-pools-*.md).

A 'same' average pool with window = stride = 2 (or 1) along each axis equals a depthwise
convolution with weights 1/(kh kw), stride = window, 'valid', over the input with its last row
(column) repeated once: for an even length the repeated row is never read; for an odd one the
last window averages the last row with itself, which is what 'same' pooling, counting only
real elements, gives. The repeat is a STRIDED_SLICE from -1 to the end plus a CONCATENATION,
so it holds at any input length: the rewritten file still resizes from 3 s to 7 s. The time
axis always gets the repeat; the coefficient axis, whose size is fixed, only when it is odd.

The weights are 64 with a per-channel scale of 1/(64 kh kw), both exact, and the output keeps
the pool's quantisation, so the result differs from the pool only in rounding (LiteRT's pool
divides with integer rounding, XNNPACK's convolution requantises in float32): at most one
step. The price is memory: each repeat is a copy of the pool's input (TFLite Micro arena 424
-> 626 KiB at 3 s), so microcontroller builds keep the pools (`--c-array`, the `-micro` file).

No TensorFlow: the file is edited with the flatbuffer schema LiteRT ships.
"""

from __future__ import annotations

import flatbuffers
import numpy as np

from sernet_edge.errors import ModelError

WEIGHT = 64          # int8 weight value; its scale 1/(64 n) is a power of two for n = 1, 2, 4


def _schema():
    from ai_edge_litert import schema_py_generated as s
    return s


def depthwise_pools(data: bytes, origin: str = "model") -> bytes:
    """The .tflite bytes with every int8 AVERAGE_POOL_2D rewritten (see the module doc); a file
    without such pools comes back unchanged."""
    s = _schema()
    model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    codes = model.operatorCodes
    pool_code = _code_index(codes, s.BuiltinOperator.AVERAGE_POOL_2D)
    graph = model.subgraphs[0]
    if pool_code is None or not any(op.opcodeIndex == pool_code for op in graph.operators):
        return bytes(data)
    new_ops = []
    for op in graph.operators:
        if op.opcodeIndex != pool_code:
            new_ops.append(op)
            continue
        new_ops += _rewrite(model, graph, op, origin)
    graph.operators = new_ops
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _code_index(codes, builtin: int, version: int | None = None) -> int | None:
    for i, c in enumerate(codes):
        if max(c.builtinCode, c.deprecatedBuiltinCode) == builtin:
            if version is not None:
                c.version = max(c.version, version)
            return i
    return None


def _ensure_code(model, builtin: int, version: int) -> int:
    s = _schema()
    found = _code_index(model.operatorCodes, builtin, version)
    if found is not None:
        return found
    code = s.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _constant(model, graph, name: str, values: np.ndarray, tensor_type: int, quant=None) -> int:
    s = _schema()
    buf = s.BufferT()
    buf.data = np.ascontiguousarray(values).view(np.uint8).ravel().tolist()
    model.buffers.append(buf)
    t = s.TensorT()
    t.shape, t.type, t.buffer, t.name = list(values.shape), tensor_type, len(model.buffers) - 1, name
    t.quantization = quant
    graph.tensors.append(t)
    return len(graph.tensors) - 1


def _like(graph, index: int, name: str, shape) -> int:
    """A new activation tensor with the type and quantisation of tensor `index`."""
    s = _schema()
    src = graph.tensors[index]
    t = s.TensorT()
    t.shape, t.type, t.name, t.quantization = list(shape), src.type, name, src.quantization
    t.buffer = 0
    if src.shapeSignature is not None:
        t.shapeSignature = [d if d < 0 else shape[k] for k, d in enumerate(src.shapeSignature)]
    graph.tensors.append(t)
    return len(graph.tensors) - 1


def _quant(scale, zero, dim=0):
    q = _schema().QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = list(map(float, scale)), list(map(int, zero)), dim
    return q


def _rewrite(model, graph, op, origin: str) -> list:
    s = _schema()
    opt = op.builtinOptions
    x, y = op.inputs[0], op.outputs[0]
    tx, ty = graph.tensors[x], graph.tensors[y]
    window = (opt.filterHeight, opt.filterWidth)
    if tx.type != s.TensorType.INT8 or ty.type != s.TensorType.INT8:
        raise ModelError(f"{origin}: only int8 average pools can be rewritten")
    if opt.padding != s.Padding.SAME or (opt.strideH, opt.strideW) != window \
            or not set(window) <= {1, 2} or len(tx.shape) != 4:
        raise ModelError(f"{origin}: average pool {window} stride {(opt.strideH, opt.strideW)} "
                         "is not a 'same' 2x2/2x1 pool; cannot rewrite it exactly")
    if tx.quantization.scale != ty.quantization.scale or \
            tx.quantization.zeroPoint != ty.quantization.zeroPoint:
        raise ModelError(f"{origin}: average pool changes quantisation; cannot rewrite it")
    name = ty.name.decode() if isinstance(ty.name, bytes) else str(ty.name)
    ops, cur, shape = [], x, list(tx.shape)
    for axis, size in ((1, window[0]), (2, window[1])):
        if size == 2 and (axis == 1 or shape[axis] % 2):
            cur, shape = _repeat_last(model, graph, ops, cur, shape, axis, f"{name}/repeat{axis}")
    channels = shape[3]
    n = window[0] * window[1]
    w_scale = 1.0 / (WEIGHT * n)
    weights = np.full((1, *window, channels), WEIGHT, np.int8)
    w = _constant(model, graph, f"{name}/weights", weights, s.TensorType.INT8,
                  _quant([w_scale] * channels, [0] * channels, dim=3))
    in_scale = tx.quantization.scale[0]
    b = _constant(model, graph, f"{name}/bias", np.zeros(channels, np.int32), s.TensorType.INT32,
                  _quant([in_scale * w_scale] * channels, [0] * channels))
    dw = s.OperatorT()
    dw.opcodeIndex = _ensure_code(model, s.BuiltinOperator.DEPTHWISE_CONV_2D, 3)
    dw.inputs, dw.outputs = [cur, w, b], [y]
    dw.builtinOptionsType = s.BuiltinOptions.DepthwiseConv2DOptions
    o = s.DepthwiseConv2DOptionsT()
    o.padding, o.strideH, o.strideW, o.depthMultiplier = s.Padding.VALID, window[0], window[1], 1
    o.fusedActivationFunction = opt.fusedActivationFunction
    dw.builtinOptions = o
    return ops + [dw]


def _repeat_last(model, graph, ops, x: int, shape, axis: int, name: str):
    """Append x's last slice along `axis` to x: STRIDED_SLICE(-1:) + CONCATENATION."""
    s = _schema()
    begin = np.zeros(4, np.int32)
    begin[axis] = -1
    mask = 0b1111 & ~(1 << axis)          # begin of every other axis: from the start
    consts = [_constant(model, graph, f"{name}/{k}", v, s.TensorType.INT32)
              for k, v in (("begin", begin), ("end", np.zeros(4, np.int32)),
                           ("strides", np.ones(4, np.int32)))]
    last_shape = list(shape)
    last_shape[axis] = 1
    last = _like(graph, x, f"{name}/last", last_shape)
    sl = s.OperatorT()
    sl.opcodeIndex = _ensure_code(model, s.BuiltinOperator.STRIDED_SLICE, 2)
    sl.inputs, sl.outputs = [x, *consts], [last]
    sl.builtinOptionsType = s.BuiltinOptions.StridedSliceOptions
    so = s.StridedSliceOptionsT()
    so.beginMask, so.endMask = mask, 0b1111
    sl.builtinOptions = so
    out_shape = list(shape)
    out_shape[axis] += 1
    out = _like(graph, x, f"{name}/out", out_shape)
    cat = s.OperatorT()
    cat.opcodeIndex = _ensure_code(model, s.BuiltinOperator.CONCATENATION, 2)
    cat.inputs, cat.outputs = [x, last], [out]
    cat.builtinOptionsType = s.BuiltinOptions.ConcatenationOptions
    co = s.ConcatenationOptionsT()
    co.axis = axis
    cat.builtinOptions = co
    ops += [sl, cat]
    return out, out_shape
