"""The benchmark results as a terminal table, markdown, JSON and a PNG chart.

All take the dict `timing.benchmark` returns; nothing here measures or counts.
"""

from __future__ import annotations

import json

from sernet_edge.bench.timing import STAGES

KIB = 1024
MIB = 1024 * 1024


# ---- cells ----

def _num(x, digits=2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _kib(n) -> str:
    return "-" if n is None else f"{n / KIB:,.1f}"


def _ms(stats: dict | None) -> str:
    if not stats:
        return "-"
    return f"{stats['median_ms']:.2f} / {stats['p90_ms']:.2f} / {stats['min_ms']:.2f}"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def _window(model: dict) -> str:
    w = model.get("window")
    return f"{w['seconds']:g}" if w else "-"


def label(model: dict) -> str:
    """'name.tflite at 7 s' (or just the name for a model without an MFCC window)."""
    w = model.get("window")
    return f"{model['name']} at {w['seconds']:g} s" if w else model["name"]


def _input(model: dict) -> str:
    shape = model["input"]["shape"]
    core = shape[1:3] if len(shape) == 4 else shape
    return f"{_shape(core)} {model['input']['dtype']}"


# ---- tables ----

def model_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "precision", "window s", "input", "params", "size KiB", "MMACs", "MFLOPs",
               "peak act KiB", "process RSS MiB", "micro arena KiB"]
    rows = []
    for m in results["models"]:
        rss = m.get("process", {}).get("peak_rss_bytes")
        rows.append([m["name"], m["precision"], _window(m), _input(m), f"{m['params']:,}",
                     _kib(m["file_bytes"]), _num(m["macs"] / 1e6), _num(m["mflops"]),
                     _kib(m["peak_activation_bytes"]), _num(rss / MIB if rss else None, 1),
                     _kib(m.get("micro", {}).get("arena_bytes"))])
    return headers, rows


def timed_rows(results: dict):
    """(model, its timing, one thread count's row) for every measured row, in order."""
    for m in results["models"]:
        t = m.get("timing")
        if t and "skipped" not in t:
            for row in t["threads"]:
                yield m, t, row


def e2e_ratio(t: dict, row: dict) -> float:
    """End-to-end median over MFCC + invoke medians (the target: at most 1.1)."""
    return row["end_to_end"]["median_ms"] / (t["mfcc"]["median_ms"] + row["invoke"]["median_ms"])


def timing_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "window s", "threads", "MFCC ms", "invoke ms", "end-to-end ms", "RTF"]
    rows = [[m["name"], f"{t['seconds']:g}", str(row["threads"]), _ms(t["mfcc"]),
             _ms(row["invoke"]), _ms(row["end_to_end"]), f"{row['rtf']:.4f}"]
            for m, t, row in timed_rows(results)]
    return headers, rows


def stage_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    """Where each end-to-end run's time goes, and how it compares with MFCC + invoke alone."""
    headers = ["model", "window s", "threads", "read", "MFCC", "quantise", "invoke", "dequantise",
               "e2e / (MFCC + invoke)"]
    rows = [[m["name"], f"{t['seconds']:g}", str(row["threads"]),
             *(f"{row['stages'][k]:.2f}" for k in STAGES), f"{e2e_ratio(t, row):.2f}"]
            for m, t, row in timed_rows(results) if row.get("stages")]
    return headers, rows


def op_rows(model: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["#", "op", "output shape", "act", "MACs", "FLOPs", "live KiB"]
    rows = [[str(r["index"]), r["op"] + (" (at load)" if r["at_load"] else ""),
             _shape(r["output_shape"]), r["activation"] or "", f"{r['macs']:,}", f"{r['flops']:,}",
             _kib(r["live_bytes"])] for r in model["ops"]]
    rows.append(["", "total (live: peak)", "", "", f"{model['macs']:,}", f"{model['flops']:,}",
                 _kib(model["peak_activation_bytes"])])
    return headers, rows


def render(headers, rows, markdown: bool = False) -> str:
    """Columns padded to width; text columns left-aligned, numeric ones right-aligned."""
    cols = list(zip(headers, *rows)) if rows else [(h,) for h in headers]
    widths = [max(len(c) for c in col) for col in cols]
    numeric = [all(_numeric(c) for c in col[1:]) and len(col) > 1 for col in cols]

    def line(cells):
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    out = [line(headers)]
    if markdown:
        out.append("|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                                  for w, num in zip(widths, numeric)) + "|")
    out += [line(r) for r in rows]
    return "\n".join(out)


def _numeric(cell: str) -> bool:
    c = cell.replace(",", "").replace(".", "").replace(" / ", "").replace("-", "")
    return c.isdigit() or cell == "-"


def machine_line(machine: dict) -> str:
    flags = f", {' '.join(machine['cpu_flags'])}" if machine.get("cpu_flags") else ""
    return (f"{machine['date']}  {machine['cpu']} ({machine['cores']} cores{flags})  "
            f"{machine['platform']}  Python {machine['python']}  numpy {machine['numpy']}  "
            f"{machine['runtime']}")


def noisy_note(results: dict) -> str | None:
    machine = results["machine"]
    if not (results["settings"]["timing"] and machine.get("noisy")):
        return None
    return (f"NOISY: load average {machine['load_average_1m']:.2f} on {machine['cores']} cores "
            "before the run: other work was using the CPU, so timings are high and spread out.")


def notes(results: dict) -> list[str]:
    out = [f"{w['model']}: not run at {w['seconds']:g} s: {w['reason']}"
           for w in results.get("skipped_windows", [])]
    seen = set()
    for m in results["models"]:
        if m["name"] in seen:       # file facts once per model, not once per window
            continue
        seen.add(m["name"])
        if m["folded_bytes"]:
            out.append(f"{m['name']}: weights are expanded at load into {_kib(m['folded_bytes'])} "
                       "KiB of constants, held in memory besides the activations")
        if m["uncounted_ops"]:
            out.append(f"{m['name']}: no FLOP rule for {', '.join(m['uncounted_ops'])} "
                       "(counted as 0)")
        if m.get("timing", {}).get("skipped"):
            out.append(f"{m['name']}: timing and process memory skipped: {m['timing']['skipped']}")
        elif m.get("process", {}).get("skipped"):
            out.append(f"{m['name']}: process memory skipped: {m['process']['skipped']}")
        reason = m.get("micro", {}).get("skipped")
        if reason and not reason.startswith("not an integer"):
            out.append(f"{m['name']}: TFLite Micro arena skipped: {reason}")
    return out


def text_report(results: dict, per_op: bool = False) -> str:
    s = results["settings"]
    parts = ["sernet-edge bench  " + machine_line(results["machine"])]
    if noisy_note(results):
        parts.append(noisy_note(results))
    parts += ["", render(*model_rows(results))]
    headers, rows = timing_rows(results)
    if rows:
        parts += ["", f"timing: median / p90 / min over {s['runs']} runs after {s['warmup']} "
                      "warm-up; RTF = end-to-end median / window length", render(headers, rows)]
        parts += ["", "end to end, stage by stage (median ms within the end-to-end runs)",
                  render(*stage_rows(results))]
    if per_op:
        for m in results["models"]:
            parts += ["", label(m), render(*op_rows(m))]
    extra = notes(results)
    if extra:
        parts += [""] + extra
    return "\n".join(parts) + "\n"


def markdown_report(results: dict, title: str = "Model benchmark") -> str:
    s, machine = results["settings"], results["machine"]
    parts = [f"# {title}", "",
             f"- date: {machine['date']}",
             f"- machine: {machine['cpu']}, {machine['cores']} cores "
             f"({', '.join(machine['cpu_flags']) or 'no SIMD flags of note'}), {machine['platform']}",
             f"- software: Python {machine['python']}, numpy {machine['numpy']}, {machine['runtime']}",
             f"- load average before the run: {_num(machine.get('load_average_1m'))}",
             *([f"- **{noisy_note(results)}**"] if noisy_note(results) else []),
             "", "## Figures from the graph and memory", "",
             render(*model_rows(results), markdown=True)]
    headers, rows = timing_rows(results)
    if rows:
        parts += ["", "## Timing", "",
                  f"median / p90 / min in ms over {s['runs']} runs after {s['warmup']} warm-up; "
                  "RTF = end-to-end median / window length.", "",
                  render(headers, rows, markdown=True),
                  "", "End to end, stage by stage (median ms within the end-to-end runs):", "",
                  render(*stage_rows(results), markdown=True)]
    for m in results["models"]:
        parts += ["", f"## Per operator: {label(m)}", "", render(*op_rows(m), markdown=True)]
    extra = notes(results)
    if extra:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in extra]
    return "\n".join(parts) + "\n"


def json_report(results: dict) -> str:
    return json.dumps(results, indent=2) + "\n"


# ---- chart ----

def write_chart(results: dict, path) -> None:
    """Compute, latency and memory per model in one PNG (matplotlib, no global backend change)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        from sernet_edge.extras import missing
        raise missing("matplotlib", "bench --chart") from None

    from sernet_edge.io import atomic_path

    models = results["models"]
    names = [_short(m) for m in models]
    timed = [m for m in models if m.get("timing") and "skipped" not in m["timing"]]
    panels = 3 if timed else 2
    fig = Figure(figsize=(5.2 * panels, 4.8 + 0.12 * max(len(n) for n in names)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels)

    ax = axes[0]
    ax.bar(range(len(models)), [m["mflops"] for m in models], color="#4c72b0")
    ax.set_title("compute (MFLOPs, from the graph)")
    _labels(ax, names)
    for i, m in enumerate(models):
        ax.annotate(f"{m['mflops']:.0f}", (i, m["mflops"]), ha="center", va="bottom", fontsize=8)

    if timed:
        _latency_panel(axes[1], timed)

    ax = axes[-1]
    series = [("file", lambda m: m["file_bytes"]),
              ("peak activations", lambda m: m["peak_activation_bytes"]),
              ("micro arena", lambda m: m.get("micro", {}).get("arena_bytes")),
              ("process RSS", lambda m: m.get("process", {}).get("peak_rss_bytes"))]
    _grouped(ax, names, [(label, [(get(m) or 0) / KIB for m in models]) for label, get in series])
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 8)   # room for the legend above the bars
    ax.set_title("memory (KiB, log scale)")

    machine = results["machine"]
    title = f"sernet-edge bench  {machine['date'][:10]}  {machine['cpu']} ({machine['cores']} cores)  {machine['runtime']}"
    if results["settings"]["timing"] and machine.get("noisy"):
        title += f"\nNOISY: load average {machine['load_average_1m']:.1f} before the run"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def _short(model: dict) -> str:
    w = model.get("window")
    name = model["name"].removesuffix(".tflite")
    return f"{name} {w['seconds']:g}s" if w else name


def _latency_panel(ax, timed) -> None:
    names = [_short(m) for m in timed]
    threads = [r["threads"] for r in timed[0]["timing"]["threads"]]
    series = [("MFCC", [m["timing"]["mfcc"] for m in timed])]
    for n in threads:
        series.append((f"invoke {n}t", [_row(m, n)["invoke"] for m in timed]))
    for n in threads:
        series.append((f"end to end {n}t", [_row(m, n)["end_to_end"] for m in timed]))
    _grouped(ax, names, [(label, [s["median_ms"] if s else 0 for s in stats])
                         for label, stats in series],
             errors=[[(s["median_ms"] - s["min_ms"], s["p90_ms"] - s["median_ms"]) if s else (0, 0)
                      for s in stats] for _, stats in series])
    ax.set_title("latency (ms: median, whiskers min-p90)")


def _row(model, threads):
    for r in model["timing"]["threads"]:
        if r["threads"] == threads:
            return r
    return {"invoke": None, "end_to_end": None}


def _grouped(ax, names, series, errors=None) -> None:
    width = 0.8 / max(len(series), 1)
    for k, (label, values) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(names))]
        yerr = None
        if errors:
            yerr = [[e[0] for e in errors[k]], [e[1] for e in errors[k]]]
        ax.bar(xs, values, width, label=label, yerr=yerr, capsize=2)
    _labels(ax, names)
    ax.legend(fontsize=7)


def _labels(ax, names) -> None:
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
