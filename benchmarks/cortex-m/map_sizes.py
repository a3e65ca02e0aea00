"""Flash and RAM of a firmware by part, from its GNU ld map file (`-Wl,-Map=`).

    python benchmarks/cortex-m/map_sizes.py benchmarks/cortex-m/build/sernet.map

Every input section placed in .text/.ARM.exidx/.init_array (flash), .data (flash and RAM) or
.bss (RAM) is counted once, by part (which object or library it came from; the clip, the
tensor arena and the front end's work buffer by name) and by kind (code, rodata, data, bss,
padding). Prints JSON. The totals come from the output sections' own sizes (they equal
`arm-none-eabi-size`'s text + data and data + bss); the parts add up to them within a few tens
of bytes: the map lists merged strings and constants before merging, and alignment gaps
without a fill line.
"""

import json
import re
import sys
from collections import defaultdict

OUTPUT = {".text", ".ARM.exidx", ".init_array", ".data", ".bss"}
INPUT = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
NAMED = {"clip_samples": "clip (int16 samples)", "arena": "tensor arena",
         "work": "front end work buffer", "audio": "audio window (int16)"}


def kind(section: str) -> str:
    if section == "*fill*":
        return "padding"
    for prefix, name in ((".rodata", "rodata"), (".data", "data"), (".bss", "bss"),
                         ("COMMON", "bss")):
        if section.startswith(prefix):
            return name
    return "code"


def part(section: str, origin: str) -> str:
    for symbol, name in NAMED.items():
        if re.search(rf"(^|\.)(_ZL\d+)?{symbol}$", section):
            return name
    if origin.endswith("model_data.o"):
        return "model array"
    if origin.endswith("sernet_frontend.o"):
        return "front end"
    if origin.endswith(("main.o", "startup.o")):
        return "main.cc + startup.c"
    if "libtflm-sernet.a(arm_" in origin:
        return "CMSIS-NN"
    if "libtflm-sernet.a(" in origin:
        return "TFLM (framework + op kernels)"
    return "C/C++ runtime (newlib, libgcc, libstdc++, semihosting)"


def sizes(map_text: str) -> dict:
    body = map_text.split("Linker script and memory map", 1)[1]
    table = defaultdict(lambda: defaultdict(int))
    totals = {}
    out, pending = None, None
    for line in body.splitlines():
        if line and not line[0].isspace():
            words = line.split()
            out = words[0] if words[0] in OUTPUT else None
            if out and len(words) >= 3 and words[2].startswith("0x"):
                totals[out] = int(words[2], 16)
            pending = None
            continue
        if out is None:
            continue
        if re.match(r"^ \S+$", line):            # a long section name: its numbers follow
            pending = line.strip()
            continue
        m = INPUT.match(line)
        if not m:
            continue
        section = m.group(1) or pending
        pending = None
        size = int(m.group(3), 16)
        if section is None or size == 0 or section.startswith("0x"):
            continue
        k = "padding" if section == "*fill*" else kind(section)
        if out == ".bss" and k != "padding":
            k = "bss"
        table[part(section, m.group(4))][k] += size
    flash = sum(totals.get(s, 0) for s in (".text", ".ARM.exidx", ".init_array", ".data"))
    ram = totals.get(".data", 0) + totals.get(".bss", 0)
    return {"flash_bytes": flash, "ram_static_bytes": ram, "output_sections": totals,
            "parts": {p: dict(sorted(v.items())) for p, v in sorted(table.items())}}


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(json.dumps(sizes(f.read()), indent=1))
