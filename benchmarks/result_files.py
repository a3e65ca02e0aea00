"""Where a benchmark writes its result: a dated name under benchmarks/results/, never over one
that exists (-2, -3, ... on the same day), or the --out the user gave."""

from __future__ import annotations

import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def new_stem(name: str, out: Path | None = None) -> Path:
    """`<results>/<name>-<UTC date>[-N]` without a suffix, or `out` without its suffix; exits
    with an error line when `out`'s .json or .md exists."""
    if out is not None:
        stem = Path(out).with_suffix("")
        for p in (stem.with_suffix(".json"), stem.with_suffix(".md")):
            if p.exists():
                raise SystemExit(f"error: {p}: exists; a result is never overwritten (give another --out)")
        return stem
    base = RESULTS / f"{name}-{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}"
    stem, k = base, 1
    while stem.with_suffix(".json").exists() or stem.with_suffix(".md").exists():
        k += 1
        stem = base.with_name(f"{base.name}-{k}")
    return stem
