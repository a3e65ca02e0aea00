"""Compare the arm64 (emulated) and x86-64 outputs of benchmarks/arm64/commands.sh and write
the result files. Standard library only.  usage: compare.py WORK_DIR OUT_STEM

WORK_DIR is check.sh's run folder (arm64-out/ from the root, x86_64/ from the host); the
results go to OUT_STEM.json and OUT_STEM.md, each written to a temporary file then renamed;
an existing result is never overwritten (exit code 2). Exit code 0 when every check passes, 1
otherwise (the files are written either way, and their verdict names the checks that failed).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

def _models() -> list[str]:
    """The MODELS=(...) line of commands.sh beside this file: one list for both scripts."""
    text = (Path(__file__).with_name("commands.sh")).read_text()
    return re.search(r"^MODELS=\(([^)]*)\)", text, re.M).group(1).split()


MODELS = _models()
# Probability tolerance. int8 models: the output tensor is int8 with scale 1/256, so one step of
# rounding in any layer can move a probability by 1/256; two steps are allowed. float16 models
# run in float32 after dequantising the weights; ARM and x86 kernels sum in different orders.
TOLERANCE = {"int8": 2 / 256, "float16": 1e-3}
PACKAGES = ["sernet-edge", "ai-edge-litert", "numpy", "soundfile", "soxr", "click", "cffi",
            "sounddevice", "webrtcvad-wheels", "pytest", "hypothesis", "matplotlib"]


def precision(model: str) -> str:
    return "float16" if model.endswith("float16") else "int8"


def read_kv(path: Path) -> dict:
    out = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
    return out


def read_tsv(path: Path, cols: list[str]) -> list[dict]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            rows.append(dict(zip(cols, parts)))
    return rows


def freeze(path: Path) -> dict:
    versions = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            m = re.match(r"^([A-Za-z0-9_.\-]+)\s*==\s*(\S+)", line)
            if m:
                versions[m.group(1).lower().replace("_", "-")] = m.group(2)
            m = re.match(r"^-e .*#egg=([A-Za-z0-9_.\-]+)", line) or re.match(r"^([A-Za-z0-9_.\-]+) @ ", line)
            if m:
                versions[m.group(1).lower().replace("_", "-")] = "(from the checkout)"
    return {p: versions.get(p) for p in PACKAGES}


def max_diff(a: dict | None, b: dict | None) -> float:
    if a is None or b is None:
        return 0.0 if a is None and b is None else float("inf")
    if set(a) != set(b):
        return float("inf")
    return max(abs(a[k] - b[k]) for k in a)


def compare_classify(x86: list, arm: list, tol: float) -> dict:
    by_name = lambda rows: {Path(r["file"]).name: r for r in rows}
    xs, ars = by_name(x86), by_name(arm)
    files = []
    for name in sorted(set(xs) | set(ars)):
        x, a = xs.get(name), ars.get(name)
        if x is None or a is None or "error" in x or "error" in a:
            files.append({"file": name, "ok": False, "problem": "missing or failed on one side",
                          "x86_64": x, "arm64": a})
            continue
        wx, wa = x.get("windows", []), a.get("windows", [])
        window_labels = len(wx) == len(wa) and all(p["label"] == q["label"] for p, q in zip(wx, wa))
        d = max([max_diff(x["probabilities"], a["probabilities"])]
                + [max_diff(p["probabilities"], q["probabilities"]) for p, q in zip(wx, wa)])
        files.append({
            "file": name, "label_x86_64": x["label"], "label_arm64": a["label"],
            "confidence_x86_64": x["confidence"], "confidence_arm64": a["confidence"],
            "windows": len(wx), "max_abs_prob_diff": d,
            "ok": x["label"] == a["label"] and window_labels and d <= tol
                  and x["duration"] == a["duration"],
        })
    return {"tolerance": tol, "files": files, "ok": bool(files) and all(f["ok"] for f in files),
            "max_abs_prob_diff": max((f.get("max_abs_prob_diff", float("inf")) for f in files), default=0.0),
            "labels_match": sum(f.get("label_x86_64") == f.get("label_arm64") for f in files)}


def compare_listen(x86: list, arm: list, tol: float) -> dict:
    hops = []
    for x, a in zip(x86, arm):
        d = max_diff(x["probabilities"], a["probabilities"])
        hops.append({"timestamp": x["timestamp"], "label_x86_64": x["label"], "label_arm64": a["label"],
                     "max_abs_prob_diff": d,
                     "ok": x["label"] == a["label"] and x["timestamp"] == a["timestamp"]
                           and x["gated"] == a["gated"] and abs(x["level_dbfs"] - a["level_dbfs"]) <= 0.01
                           and d <= tol})
    return {"tolerance": tol, "hops_x86_64": len(x86), "hops_arm64": len(arm), "hops": hops,
            "labels_match": sum(h["label_x86_64"] == h["label_arm64"] for h in hops),
            "max_abs_prob_diff": max((h["max_abs_prob_diff"] for h in hops), default=0.0),
            "ok": len(x86) == len(arm) > 0 and all(h["ok"] for h in hops)}


def diff_paths(x, a, path="") -> list[str]:
    if isinstance(x, dict) and isinstance(a, dict):
        out = []
        for k in sorted(set(x) | set(a)):
            if k not in x or k not in a:
                out.append(f"{path}/{k}: only on {'x86_64' if k in x else 'arm64'}")
            else:
                out += diff_paths(x[k], a[k], f"{path}/{k}")
        return out
    if isinstance(x, list) and isinstance(a, list) and len(x) == len(a):
        return [d for i, (p, q) in enumerate(zip(x, a)) for d in diff_paths(p, q, f"{path}[{i}]")]
    return [] if x == a else [f"{path}: {x!r} vs {a!r}"]


def compare_bench(x86: dict, arm: dict) -> dict:
    # the path differs by machine; `micro` (the TFLite Micro arena) needs the [micro] extra,
    # which is not part of the device install
    skip = {"model", "micro"}
    models = []
    key = lambda m: f'{m["name"]} at {m.get("features", {}).get("seconds", "?")} s'
    xm = {key(m): m for m in x86["models"]}
    am = {key(m): m for m in arm["models"]}
    if len(x86["models"]) != len(xm) or len(arm["models"]) != len(am):
        models.append({"name": "(duplicate entries)", "ok": False, "differences": ["duplicate model entries"]})
    for name in sorted(set(xm) | set(am)):
        if name not in xm or name not in am:
            models.append({"name": name, "ok": False, "differences": ["missing on one side"]})
            continue
        x = {k: v for k, v in xm[name].items() if k not in skip}
        a = {k: v for k, v in am[name].items() if k not in skip}
        d = diff_paths(x, a)
        models.append({"name": name, "ok": not d, "differences": d[:20],
                       "compared_keys": sorted(x), "macs": x.get("macs"),
                       "peak_activation_bytes": x.get("peak_activation_bytes"),
                       "micro_x86_64": xm[name].get("micro"), "micro_arm64": am[name].get("micro")})
    return {"models": models, "ok": bool(models) and all(m["ok"] for m in models),
            "machine_arm64": arm.get("machine"), "machine_x86_64": x86.get("machine")}


def pytest_counts(path: Path) -> dict:
    if not path.is_file():
        return {"ok": False, "problem": "no pytest.xml"}
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    failed = [f'{c.get("classname")}::{c.get("name")}' for c in suite.iter("testcase")
              if c.find("failure") is not None or c.find("error") is not None]
    n["passed"] = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
    n["seconds"] = float(suite.get("time", 0))
    return {**n, "failed": failed, "ok": n["failures"] == 0 and n["errors"] == 0 and n["passed"] > 0}


def load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def load_jsonl(path: Path) -> list:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def shorten(cmd: str) -> str:
    return re.sub(r"\S*/(sernet_edge/clips/)", r"\1", cmd)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def fmt(d: float) -> str:
    return "0" if d == 0 else f"{d:.2g}"


def main(work: Path, stem: Path) -> int:
    for p in (stem.with_suffix(".json"), stem.with_suffix(".md")):
        if p.exists():
            print(f"compare: error: {p} exists: a result is never overwritten", file=sys.stderr)
            return 2
    arm_out = work / "arm64-out"
    A, X = arm_out / "arm64", work / "x86_64"
    host = read_kv(work / "host-env.txt")
    env = read_kv(arm_out / "env.txt")
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "what": "benchmarks/arm64/check.sh: the Raspberry Pi guide's install in an emulated Debian "
                "bookworm arm64 root (qemu-user), the same commands on the x86-64 host, compared",
        "note": "wall times under qemu-user emulation say nothing about a Raspberry Pi's speed",
        "commit": host.get("commit"), "uncommitted_tracked_changes": int(host.get("dirty", "0") or 0),
        "emulation": {"qemu": host.get("qemu"), "cpu": host.get("qemu_cpu"), "pip_ca_bundle": host.get("pip_ca_bundle_in_root"), "debootstrap": host.get("debootstrap"),
                      "root": host.get("root"), "root_reused": host.get("root_reused")},
        "arm64": {**env, "packages": freeze(arm_out / "pip-freeze.txt")},
        "x86_64": {"venv": host.get("host_venv"), "debian": host.get("host_debian"), "python": host.get("host_python"),
                   "cpu": host.get("host_cpu"), "cores": host.get("host_cores"),
                   "packages": freeze(work / "x86_64-pip-freeze.txt")},
        "guide_blocks": {b: (arm_out.parent / f"arm64-guide-{b}.sh").read_text()
                         if (arm_out.parent / f"arm64-guide-{b}.sh").is_file() else None
                         for b in ("base", "mic")},
        "classify": {}, "checks": {},
    }
    cols = ["name", "exit_code", "ms", "command"]
    tx, ta = read_tsv(X / "times.tsv", cols), read_tsv(A / "times.tsv", cols)
    result["commands"] = [
        {"name": x["name"], "command": shorten(x["command"]), "exit_code_x86_64": int(x["exit_code"]),
         "exit_code_arm64": int(a["exit_code"]), "seconds_x86_64": int(x["ms"]) / 1000,
         "seconds_arm64_emulated": int(a["ms"]) / 1000}
        for x, a in zip(tx, ta)]
    result["steps_arm64_emulated"] = [
        {"step": r["name"], "exit_code": int(r["exit_code"]), "seconds": int(r["ms"]) / 1000}
        for r in read_tsv(arm_out / "steps.tsv", ["name", "exit_code", "ms"])]
    result["inside_seconds"] = int((work / "inside-seconds").read_text()) if (work / "inside-seconds").is_file() else None
    result["check_seconds"] = int(host["check_seconds"]) if host.get("check_seconds", "").isdigit() else None
    result["inside_exit_code"] = int((work / "inside-rc").read_text()) if (work / "inside-rc").is_file() else None
    checks = result["checks"]
    checks["arm64_run_exit_0"] = result["inside_exit_code"] == 0
    checks["commands_exit_0"] = bool(tx) and len(tx) == len(ta) and all(
        c["exit_code_x86_64"] == 0 and c["exit_code_arm64"] == 0 for c in result["commands"])
    checks["arm64_is_aarch64"] = env.get("uname_m") == "aarch64"
    for m in MODELS:
        x, a = load_json(X / f"classify-{m}.json"), load_json(A / f"classify-{m}.json")
        c = compare_classify(x or [], a or [], TOLERANCE[precision(m)])
        result["classify"][m] = c
        checks[f"classify_{m}"] = c["ok"] and len(c["files"]) == 7
    result["listen"] = compare_listen(load_jsonl(X / "listen.jsonl"), load_jsonl(A / "listen.jsonl"),
                                      TOLERANCE["int8"])
    checks["listen"] = result["listen"]["ok"]
    bx, ba = load_json(X / "bench.json"), load_json(A / "bench.json")
    result["bench"] = compare_bench(bx, ba) if bx and ba else {"ok": False, "problem": "no bench JSON"}
    checks["bench_counted_figures_identical"] = result["bench"]["ok"]
    result["pytest_arm64"] = pytest_counts(arm_out / "pytest.xml")
    checks["device_tests_arm64"] = result["pytest_arm64"]["ok"]
    result["ok"] = all(checks.values())

    write_atomic(stem.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    write_atomic(stem.with_suffix(".md"), markdown(result))
    for k, v in checks.items():
        if not v:
            print(f"compare: {k} failed", file=sys.stderr)
    return 0 if result["ok"] else 1


def conf(c) -> str:
    return f"{c:.4f}" if isinstance(c, (int, float)) else str(c)


def markdown(r: dict) -> str:
    L = []
    add = L.append
    add(f"# Device install on arm64 (emulated): {r['date'][:10]}\n")
    add("`sudo bash benchmarks/arm64/check.sh` installed sernet-edge into a Debian bookworm arm64 "
        "root as [docs/raspberry-pi.md](../../docs/raspberry-pi.md) tells a user, ran the commands "
        "below there under qemu-user emulation and on the x86-64 host, and compared the outputs. "
        f"Verdict: **{'all checks pass' if r['ok'] else 'FAILED: ' + ', '.join(k for k, v in r['checks'].items() if not v)}**.\n")
    if r["ok"]:
        add("This shows that the install works and gives the same answers on an ARMv8 (aarch64) "
            "Linux with the same wheels a Raspberry Pi OS 64-bit gets.")
    else:
        add("This run does **not** show that the install works: the checks marked FAIL below "
            "failed (their details follow).")
    add("It is not a measurement of a Raspberry Pi: the emulated wall times below are qemu "
        f"translating ARM code on {r['x86_64']['cores']} shared x86-64 cores and say nothing about "
        "a Pi's speed.\n")
    add(f"Commit `{r['commit']}`" + (f" with {r['uncommitted_tracked_changes']} uncommitted tracked files"
                                   if r['uncommitted_tracked_changes'] else "") + f"; run {r['date']}.\n")
    add("## Checks\n")
    add("| check | result |\n|---|---|")
    for k, v in r["checks"].items():
        add(f"| {k} | {'pass' if v else 'FAIL'} |")
    add("")
    add("## classify: every bundled clip, every bundled model\n")
    add("| model | labels equal | max abs probability difference | tolerance |\n|---|---:|---:|---:|")
    for m, c in r["classify"].items():
        add(f"| `-m {m}` | {c['labels_match']}/{len(c['files'])} | {fmt(c['max_abs_prob_diff'])} | {fmt(c['tolerance'])} |")
    add("")
    add("| clip | " + " | ".join(f"`{m}` x86-64 / arm64" for m in r["classify"]) + " |")
    add("|---|" + "---|" * len(r["classify"]))
    names = [f["file"] for f in next(iter(r["classify"].values()))["files"]]
    for i, n in enumerate(names):
        cells = []
        for c in r["classify"].values():
            f = c["files"][i] if i < len(c["files"]) else {}
            cells.append(f"{f.get('label_x86_64')} {conf(f.get('confidence_x86_64'))} / "
                         f"{f.get('label_arm64')} {conf(f.get('confidence_arm64'))}")
        add(f"| {n} | " + " | ".join(cells) + " |")
    add("")
    li = r["listen"]
    add("## listen --file\n")
    add(f"{li['hops_arm64']} hops on arm64, {li['hops_x86_64']} on x86-64; labels equal on "
        f"{li['labels_match']}; max abs probability difference {fmt(li['max_abs_prob_diff'])} "
        f"(tolerance {fmt(li['tolerance'])}); timestamps, gate decisions and levels compared too.\n")
    b = r["bench"]
    add("## bench --no-timing: counted figures\n")
    if "models" in b:
        add("| model | identical | MACs | peak activations (bytes) | differences |\n|---|---|---:|---:|---|")
        for m in b["models"]:
            add(f"| {m['name']} | {'yes' if m['ok'] else 'NO'} | {m.get('macs')} | "
                f"{m.get('peak_activation_bytes')} | {'; '.join(m['differences'][:3]) or '-'} |")
        add("\nEvery key of each model's entry is compared (parameters, bytes, MACs, FLOPs, peak "
            "activation memory, every operator's row, the feature settings) except the file path and "
            "`micro`, the TensorFlow Lite Micro arena, which needs the `[micro]` extra (not part of "
            "a device install): on arm64 it is "
            f"`{next((m.get('micro_arm64') for m in b['models'] if 'int8' in m['name']), None)}` "
            f"(x86-64: `{next((m.get('micro_x86_64') for m in b['models'] if 'int8' in m['name']), None)}`).\n")
    t = r["pytest_arm64"]
    add("## Device-side tests on arm64\n")
    add(f"{t.get('passed')} passed, {t.get('skipped')} skipped, {t.get('failures')} failed, "
        f"{t.get('errors')} errors (pytest's own time {t.get('seconds', 0):.0f} s emulated): all of "
        "`tests/`, run in the guide's install (not editable) with pytest and hypothesis added; "
        "everything that needs TensorFlow, Keras, torch, matplotlib or scipy skips with its reason; "
        "see benchmarks/arm64/README.md."
        + (f" Failed: {', '.join(t['failed'])}." if t.get("failed") else "") + "\n")
    add("## Versions\n")
    add("| | arm64 (emulated root) | x86-64 host |\n|---|---|---|")
    add(f"| OS | Debian {r['arm64'].get('debian')} ({r['arm64'].get('uname_m')}), {r['arm64'].get('glibc')} "
        f"| Debian {r['x86_64']['debian']}, {r['x86_64']['cpu']}, {r['x86_64']['cores']} cores |")
    add(f"| Python | {r['arm64'].get('python')} (Debian's), pip {r['arm64'].get('pip')} | {r['x86_64']['python']} (`{r['x86_64'].get('venv')}`) |")
    for p in r["arm64"]["packages"]:
        add(f"| {p} | {r['arm64']['packages'][p] or '-'} | {r['x86_64']['packages'].get(p) or '-'} |")
    add(f"| libportaudio2 (apt) | {r['arm64'].get('libportaudio2')} | |")
    e = r["emulation"]
    add(f"\nEmulation: {e['qemu']}, CPU model `{e['cpu']}`; root from debootstrap {e['debootstrap']} ({e['root']}). "
        f"pip in the root trusted the CA bundle `{e.get('pip_ca_bundle')}` (this machine's network "
        "re-signs TLS; a Pi on an ordinary network needs nothing of the kind).\n")
    add("## Wall times (emulated times are not Pi times)\n")
    add("| step in the arm64 root | seconds |\n|---|---:|")
    for s in r["steps_arm64_emulated"]:
        add(f"| {s['step']} | {s['seconds']:.1f} |")
    add(f"| whole run in the root | {r['inside_seconds']} (exit code {r.get('inside_exit_code')}) |\n")
    add("| command | x86-64 s | arm64 emulated s |\n|---|---:|---:|")
    for c in r["commands"]:
        add(f"| `{c['command'][:110]}` | {c['seconds_x86_64']:.2f} | {c['seconds_arm64_emulated']:.2f} |")
    add("")
    add("## The install that ran (docs/raspberry-pi.md, section 1)\n")
    for blk, text in r["guide_blocks"].items():
        if text:
            body = "\n".join(l for l in text.splitlines() if not l.startswith("sudo() {"))
            add(f"`{blk}`:\n\n```sh\n{body}\n```\n")
    add("(`sudo` was a pass-through: the emulated root runs as root.)\n")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: compare.py WORK_DIR OUT_STEM")
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
