"""Just enough of the TFLite flatbuffer format to read metadata and buffers, without TensorFlow.

Schema (tensorflow/lite/schema/schema.fbs): Model.buffers is field 4, Model.metadata field 6;
Metadata{name:string, buffer:uint} and Buffer{data:[ubyte], offset:ulong, size:ulong}.
"""

from __future__ import annotations

import hashlib
import struct

from sernet_edge.errors import ModelError

IDENTIFIER = b"TFL3"
MODEL_BUFFERS, MODEL_METADATA = 4, 6


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
