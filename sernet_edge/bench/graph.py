"""What a .tflite graph costs, counted from the file alone (no TensorFlow, nothing timed).

The LiteRT interpreter, without its default delegate, gives the operators in execution order
(`_get_ops_details`) and the tensors (`get_tensor_details`). Two facts it does not expose come
from the flatbuffer: each operator's builtin options (pool window, fused activation) and which
tensors carry data in the file (weights and other constants).

Counting rules (docs/benchmarks.md explains them against the paper's 322 / 760 MFLOPs):
- MACs: CONV_2D out x kh x kw x cin, DEPTHWISE_CONV_2D out x kh x kw, TRANSPOSE_CONV
  in x kh x kw x cout, FULLY_CONNECTED out x in. Other operators have none.
- FLOPs: 2 per MAC, +1 per output element for a bias, +1 per output element for a fused
  activation; pooling kh x kw per output element; MEAN in + out elements; SUM / REDUCE_* in
  elements; SOFTMAX 5 per element; other element-wise operators 1 per output element; data
  movement and type conversion 0. Operators that only transform constants (DEQUANTIZE of
  float16 weights) run once at load and count 0. Anything else is listed as uncounted.
- Peak activation memory: an activation tensor is live from the operator that writes it (the
  graph input: from the start) to the last operator that reads it (a graph output: to the
  end); the peak is the largest total of live tensors at any operator. Weights, constants
  and tensors computed only from constants are excluded. Buffer sharing is not modelled.
- Parameters: elements of the constant tensors the operators read, each tensor once, leaving
  out int32/int64 constants other than biases (axes, shapes, paddings).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sernet_edge.bench import plain_interpreter, read_model_file
from sernet_edge.errors import ModelError
from sernet_edge.tflite_file import MODEL_SUBGRAPHS, SUBGRAPH_TENSORS, Reader, read_model

# flatbuffer field numbers (tensorflow/lite/schema/schema.fbs)
SUBGRAPH_OPERATORS = 3
TENSOR_BUFFER = 2
OPERATOR_BUILTIN_OPTIONS = 4
POOL_FILTER_WIDTH, POOL_FILTER_HEIGHT = 3, 4
# where each options table keeps fused_activation_function
ACTIVATION_FIELD = {
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 4, "TRANSPOSE_CONV": 3, "FULLY_CONNECTED": 0,
    "AVERAGE_POOL_2D": 5, "MAX_POOL_2D": 5, "L2_POOL_2D": 5,
    "ADD": 0, "SUB": 0, "MUL": 0, "DIV": 0, "CONCATENATION": 1,
}
ACTIVATIONS = {1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}

MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED")
BIAS_SLOT = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3}
POOL_OPS = ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D")
REDUCE_OPS = ("SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD")
PER_ELEMENT_FLOPS = {
    "SOFTMAX": 5, "LOG_SOFTMAX": 5,
    **{k: 1 for k in ("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE",
                      "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC", "TANH",
                      "HARD_SWISH", "ABS", "NEG", "SQRT", "RSQRT", "EXP", "LOG", "SQUARE")},
}
FREE_OPS = ("CONCATENATION", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PAD", "PADV2",
            "SLICE", "STRIDED_SLICE", "GATHER", "SPLIT", "SPLIT_V", "PACK", "UNPACK", "SHAPE",
            "QUANTIZE", "DEQUANTIZE", "CAST")
INDEX_DTYPES = ("int32", "int64")


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    constant: bool                 # has data in the file

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.elements * self.itemsize


@dataclass(frozen=True)
class Op:
    index: int                     # position in execution order
    kind: str                      # builtin name, e.g. CONV_2D
    inputs: tuple[int, ...]        # tensor indices; -1 for an absent optional input
    outputs: tuple[int, ...]
    activation: str | None = None  # fused activation
    window: tuple[int, int] | None = None  # pooling (height, width)


@dataclass(frozen=True)
class Graph:
    tensors: dict[int, Tensor]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def folded(self) -> set[int]:
        """Tensors computed only from constants (e.g. float16 weights dequantised at load)."""
        known = {i for i, t in self.tensors.items() if t.constant}
        derived: set[int] = set()
        for op in self.ops:
            ins = [i for i in op.inputs if i >= 0]
            if ins and all(i in known for i in ins):
                known.update(op.outputs)
                derived.update(op.outputs)
        return derived

    def activations(self) -> set[int]:
        """Tensors that hold data computed from the input at run time."""
        folded = self.folded()
        used = {i for op in self.ops for i in (*op.inputs, *op.outputs) if i >= 0}
        used.update(self.inputs)
        return {i for i in used if not self.tensors[i].constant and i not in folded}


# ---- reading ----

def read_graph(model: bytes, origin: str | Path = "model", input_shape=None) -> Graph:
    """The main subgraph of a .tflite file in execution order; with `input_shape`, every
    tensor's shape as the interpreter propagates it from that input."""
    interp = plain_interpreter(model, origin, input_shape)
    details = interp.get_tensor_details()
    ops = interp._get_ops_details()
    if any(op["op_name"] == "DELEGATE" for op in ops):
        raise ModelError(f"{origin}: graph is delegated; cannot list its operators")
    options, constants, n_file_ops = _file_facts(model, [op["op_name"] for op in ops], origin)
    if n_file_ops != len(ops):
        raise ModelError(f"{origin}: interpreter lists {len(ops)} operators, file has {n_file_ops}")
    tensors = {}
    for d in details:
        dtype = np.dtype(d["dtype"])
        tensors[d["index"]] = Tensor(d["index"], d["name"], tuple(int(x) for x in d["shape"]),
                                     dtype.name, dtype.itemsize, d["index"] in constants)
    graph_ops = tuple(
        Op(pos, op["op_name"], tuple(int(i) for i in op["inputs"]), tuple(int(i) for i in op["outputs"]),
           *options[pos])
        for pos, op in enumerate(ops))
    return Graph(tensors, graph_ops,
                 tuple(int(d["index"]) for d in interp.get_input_details()),
                 tuple(int(d["index"]) for d in interp.get_output_details()))


def _file_facts(model: bytes, kinds: list[str], origin) -> tuple[list, set[int], int]:
    """([(activation, window)] per operator, indices of tensors with data, operator count)."""
    buffers = read_model(model)["buffers"]
    r = Reader(model)
    try:
        root = r.u32(0)
        subgraph = r.tables(r.field(root, MODEL_SUBGRAPHS))[0]
        constants = set()
        for i, t in enumerate(r.tables(r.field(subgraph, SUBGRAPH_TENSORS))):
            pos = r.field(t, TENSOR_BUFFER)
            b = r.u32(pos) if pos else 0
            if 0 < b < len(buffers) and buffers[b]:
                constants.add(i)
        pos = r.field(subgraph, SUBGRAPH_OPERATORS)
        operators = r.tables(pos) if pos else []
        options = []
        for kind, op in zip(kinds, operators):
            opos = r.field(op, OPERATOR_BUILTIN_OPTIONS)
            table = r.deref(opos) if opos else None
            options.append(_options(r, table, kind))
    except (struct.error, IndexError, TypeError) as e:
        raise ModelError(f"{origin}: damaged TFLite file ({e})") from None
    return options, constants, len(operators)


def _options(r: Reader, table: int | None, kind: str) -> tuple[str | None, tuple[int, int] | None]:
    def byte(field):
        pos = r.field(table, field) if table is not None else None
        return struct.unpack_from("<b", r.b, pos)[0] if pos else 0

    def int32(field):
        pos = r.field(table, field) if table is not None else None
        return struct.unpack_from("<i", r.b, pos)[0] if pos else 0

    activation = ACTIVATIONS.get(byte(ACTIVATION_FIELD[kind])) if kind in ACTIVATION_FIELD else None
    window = (int32(POOL_FILTER_HEIGHT), int32(POOL_FILTER_WIDTH)) if kind in POOL_OPS else None
    return activation, window


# ---- counting ----

def op_macs(op: Op, tensors: dict[int, Tensor]) -> int:
    """Multiply-accumulates of one operator (0 for operators without a weight product)."""
    if op.kind not in MAC_OPS:
        return 0
    out = tensors[op.outputs[0]].elements
    w = tensors[op.inputs[1]].shape
    if op.kind == "CONV_2D":             # weights (cout, kh, kw, cin per group)
        return out * w[1] * w[2] * w[3]
    if op.kind == "DEPTHWISE_CONV_2D":   # weights (1, kh, kw, channels x multiplier)
        return out * w[1] * w[2]
    if op.kind == "TRANSPOSE_CONV":      # inputs: output shape, weights (cout, kh, kw, cin), input
        return tensors[op.inputs[2]].elements * w[0] * w[1] * w[2]
    return out * w[-1]                   # FULLY_CONNECTED: weights (units, in)


def op_flops(op: Op, tensors: dict[int, Tensor], macs: int) -> int | None:
    """FLOPs of one operator under the module's rules; None if the rules do not cover it."""
    out = tensors[op.outputs[0]].elements if op.outputs else 0
    extra = out if op.activation else 0
    if op.kind in MAC_OPS:
        slot = BIAS_SLOT[op.kind]
        has_bias = len(op.inputs) > slot and op.inputs[slot] >= 0
        return 2 * macs + (out if has_bias else 0) + extra
    if op.kind in POOL_OPS:
        return op.window[0] * op.window[1] * out + extra
    if op.kind == "MEAN":
        return tensors[op.inputs[0]].elements + out
    if op.kind in REDUCE_OPS:
        return tensors[op.inputs[0]].elements
    if op.kind in PER_ELEMENT_FLOPS:
        return PER_ELEMENT_FLOPS[op.kind] * out + extra
    if op.kind in FREE_OPS:
        return 0
    return None


def live_ranges(graph: Graph) -> dict[int, tuple[int, int]]:
    """(first, last) operator position at which each activation tensor is live."""
    act = graph.activations()
    last = len(graph.ops) - 1
    first: dict[int, int] = {i: 0 for i in graph.inputs if i in act}
    end: dict[int, int] = dict(first)
    for op in graph.ops:
        for i in op.inputs:
            if i in act:
                first.setdefault(i, op.index)
                end[i] = op.index
        for o in op.outputs:
            if o in act:
                first.setdefault(o, op.index)
                end[o] = max(end.get(o, op.index), op.index)
    for o in graph.outputs:
        if o in act:
            end[o] = max(last, 0)
    return {i: (first[i], end[i]) for i in first}


def live_bytes(graph: Graph) -> list[int]:
    """Bytes of live activations at each operator, in execution order."""
    ranges = live_ranges(graph)
    totals = [0] * len(graph.ops)
    for i, (a, b) in ranges.items():
        size = graph.tensors[i].nbytes
        for pos in range(a, b + 1):
            totals[pos] += size
    return totals


def parameter_tensors(graph: Graph) -> set[int]:
    """Constant tensors read by operators that are weights or biases (not axes or shapes)."""
    params = set()
    for op in graph.ops:
        for slot, i in enumerate(op.inputs):
            if i < 0 or not graph.tensors[i].constant:
                continue
            is_bias = BIAS_SLOT.get(op.kind) == slot
            if graph.tensors[i].dtype not in INDEX_DTYPES or is_bias:
                params.add(i)
    return params


def precision(graph: Graph, params: set[int]) -> str:
    """float32, float16, dynamic-int8, int8 or int16x8, from the tensor types."""
    act = {graph.tensors[i].dtype for i in graph.activations()}
    weights = {graph.tensors[i].dtype for i in params}
    if act and not any(d.startswith("float") for d in act):
        return "int16x8" if "int16" in act else "int8"
    if "float16" in weights:
        return "float16"
    if weights & {"int8", "uint8", "int4"}:
        return "dynamic-int8"
    return "float32"


# ---- the summary ----

def analyse(path) -> dict:
    """Every figure countable from the file: the summary `bench` prints, plus a per-op table."""
    path = Path(path)
    data = read_model_file(path)
    return analyse_bytes(data, path)


def analyse_bytes(data: bytes, path: Path, input_shape=None) -> dict:
    graph = read_graph(data, path, input_shape)
    t = graph.tensors
    folded = graph.folded()
    live = live_bytes(graph)
    rows, uncounted = [], []
    for op in graph.ops:
        at_load = bool(op.outputs) and all(o in folded for o in op.outputs)
        macs = 0 if at_load else op_macs(op, t)
        flops = 0 if at_load else op_flops(op, t, macs)
        if flops is None:
            uncounted.append(op.kind)
        rows.append({"index": op.index, "op": op.kind,
                     "output_shape": list(t[op.outputs[0]].shape) if op.outputs else [],
                     "activation": op.activation, "macs": macs, "flops": flops or 0,
                     "live_bytes": live[op.index], "at_load": at_load})
    params = parameter_tensors(graph)
    peak_at = int(np.argmax(live)) if live else 0
    inp, out = t[graph.inputs[0]], t[graph.outputs[0]]
    act = graph.activations()
    macs = sum(r["macs"] for r in rows)
    flops = sum(r["flops"] for r in rows)
    return {
        "model": str(path),
        "name": path.name,
        "file_bytes": len(data),
        "precision": precision(graph, params),
        "input": {"shape": list(inp.shape), "dtype": inp.dtype},
        "output": {"shape": list(out.shape), "dtype": out.dtype},
        "params": sum(t[i].elements for i in params),
        "param_bytes": sum(t[i].nbytes for i in params),
        "folded_bytes": sum(t[i].nbytes for i in folded),
        "macs": macs,
        "flops": flops,
        "mflops": flops / 1e6,
        "peak_activation_bytes": live[peak_at] if live else 0,
        "peak_op": {"index": peak_at, "op": graph.ops[peak_at].kind} if live else None,
        "integer_only": bool(act) and not any(t[i].dtype.startswith("float") for i in act),
        "uncounted_ops": sorted(set(uncounted)),
        "ops": rows,
    }
