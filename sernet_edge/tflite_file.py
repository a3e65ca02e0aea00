"""Just enough of the TFLite flatbuffer format to read metadata and buffers, without TensorFlow.

Schema (tensorflow/lite/schema/schema.fbs): Model.subgraphs is field 2, Model.buffers field 4,
Model.metadata field 6; Metadata{name:string, buffer:uint}, Buffer{data:[ubyte], offset:ulong,
size:ulong}; SubGraph.tensors field 0; Tensor.shape field 0, Tensor.shape_signature field 7.
"""

from __future__ import annotations

import hashlib
import struct

from sernet_edge.errors import ModelError

IDENTIFIER = b"TFL3"
MODEL_SUBGRAPHS, MODEL_BUFFERS, MODEL_METADATA = 2, 4, 6
SUBGRAPH_TENSORS = 0
TENSOR_SHAPE, TENSOR_SHAPE_SIGNATURE = 0, 7


class Reader:
    def __init__(self, data: bytes):
        self.b = memoryview(data)

    def u32(self, pos):
        return struct.unpack_from("<I", self.b, pos)[0]

    def u64(self, pos):
        return struct.unpack_from("<Q", self.b, pos)[0]

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of field `index` of the table at `table`, or None if absent."""
        vtable = table - struct.unpack_from("<i", self.b, table)[0]
        vsize = struct.unpack_from("<H", self.b, vtable)[0]
        slot = 4 + 2 * index
        if slot >= vsize:
            return None
        off = struct.unpack_from("<H", self.b, vtable + slot)[0]
        return table + off if off else None

    def deref(self, pos: int) -> int:
        return pos + self.u32(pos)

    def vector(self, pos: int) -> tuple[int, int]:
        start = self.deref(pos)
        return start + 4, self.u32(start)

    def tables(self, pos: int) -> list[int]:
        start, n = self.vector(pos)
        return [self.deref(start + 4 * i) for i in range(n)]

    def string(self, pos: int) -> str:
        start, n = self.vector(pos)
        return bytes(self.b[start:start + n]).decode("utf-8", "replace")


def read_model(data: bytes, origin: str = "model") -> dict:
    """{'metadata': {name: bytes}, 'buffers': [bytes | None], 'metadata_buffers': set[int]}."""
    if len(data) < 8 or bytes(data[4:8]) != IDENTIFIER:
        raise ModelError(f"{origin}: not a TFLite model (missing the TFL3 identifier)")
    r = Reader(data)
    try:
        root = r.u32(0)
        buffers = []
        pos = r.field(root, MODEL_BUFFERS)
        for t in (r.tables(pos) if pos else []):
            dpos = r.field(t, 0)
            if dpos is not None:
                start, n = r.vector(dpos)
                buffers.append(bytes(r.b[start:start + n]))
            else:
                opos, spos = r.field(t, 1), r.field(t, 2)
                off, size = (r.u64(opos) if opos else 0), (r.u64(spos) if spos else 0)
                buffers.append(bytes(r.b[off:off + size]) if off > 1 else b"")
        metadata, meta_buffers = {}, set()
        pos = r.field(root, MODEL_METADATA)
        for t in (r.tables(pos) if pos else []):
            npos, bpos = r.field(t, 0), r.field(t, 1)
            name = r.string(npos) if npos else ""
            index = r.u32(bpos) if bpos else 0
            meta_buffers.add(index)
            metadata[name] = buffers[index] if index < len(buffers) else b""
    except (struct.error, IndexError, UnicodeError) as e:
        raise ModelError(f"{origin}: damaged or truncated TFLite file ({e})") from None
    return {"metadata": metadata, "buffers": buffers, "metadata_buffers": meta_buffers}


def weights_sha256(model: dict) -> str:
    """Hash of every buffer that is not metadata: changes iff the weights or constants change."""
    h = hashlib.sha256()
    for i, data in enumerate(model["buffers"]):
        if i not in model["metadata_buffers"]:
            h.update(struct.pack("<Q", len(data)))
            h.update(data)
    return h.hexdigest()


def with_tensor_shapes(data: bytes, shapes: dict[int, tuple], origin: str = "model") -> bytes:
    """A copy of the file whose main-subgraph tensors have the given shapes (same ranks), patched
    in place: how a fully convolutional graph is written for another input length, for runtimes
    that cannot resize (TFLite Micro plans its arena from the shapes in the file)."""
    out = bytearray(data)
    r = Reader(data)
    try:
        subgraph = r.tables(r.field(r.u32(0), MODEL_SUBGRAPHS))[0]
        tensors = r.tables(r.field(subgraph, SUBGRAPH_TENSORS))
        for index, shape in shapes.items():
            if index >= len(tensors):   # the interpreter's own scratch tensors
                continue
            for field in (TENSOR_SHAPE, TENSOR_SHAPE_SIGNATURE):
                pos = r.field(tensors[index], field)
                if pos is None:
                    continue
                start, n = r.vector(pos)
                old = struct.unpack_from(f"<{n}i", data, start)
                if n != len(shape):
                    raise ModelError(f"{origin}: tensor {index} has rank {n}, not {len(shape)}")
                new = [o if (field == TENSOR_SHAPE_SIGNATURE and o < 0) else int(d)
                       for o, d in zip(old, shape)]
                struct.pack_into(f"<{n}i", out, start, *new)
    except (struct.error, IndexError, TypeError) as e:
        raise ModelError(f"{origin}: damaged TFLite file ({e})") from None
    return bytes(out)
