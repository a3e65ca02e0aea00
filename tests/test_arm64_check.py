"""The Raspberry Pi install in an emulated Debian arm64 root (benchmarks/arm64/check.sh).

Opt-in: it builds a Debian root under qemu and installs into it (about 15 minutes on 2 cores
once the root is built), so it runs only with SERNET_ARM64_CHECK=1, as root, where binfmt_misc
exists. The tests below it need none of that: the result's name and its verdict.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "arm64" / "check.sh"


def _skip_reason() -> str | None:
    if os.environ.get("SERNET_ARM64_CHECK") != "1":
        return "the emulated arm64 check is opt-in: set SERNET_ARM64_CHECK=1 (as root; about 15 min with the root built)"
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "the emulated arm64 check needs root on Linux (debootstrap, binfmt_misc, chroot)"
    if not Path("/proc/sys/fs/binfmt_misc").is_dir():
        return "binfmt_misc is not available in this kernel: qemu-user cannot run arm64 programs"
    if shutil.which("apt-get") is None:
        return "the emulated arm64 check needs a Debian host (apt-get)"
    return None


def test_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


@pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")
def test_device_install_on_emulated_arm64_matches_x86_64(tmp_path):
    env = dict(os.environ)
    env.setdefault("SERNET_ARM64_OUTDIR", str(tmp_path))
    env.setdefault("SERNET_ARM64_HOST_PYTHON", sys.executable)
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=4 * 3600)
    outdir = Path(env["SERNET_ARM64_OUTDIR"])
    results = sorted(outdir.glob("arm64-*.json"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert results, f"no arm64-*.json in {outdir}"
    result = json.loads(results[-1].read_text())
    assert result["ok"], result["checks"]
    for model, c in result["classify"].items():
        assert c["labels_match"] == len(c["files"]) == 7, model


# ---- without root: the result's name and verdict (benchmarks/arm64/check.sh, compare.py) ----

def _result_name(outdir: Path, **env) -> str:
    proc = subprocess.run(["bash", str(SCRIPT), "--result-name"], capture_output=True, text=True,
                          env={**os.environ, "SERNET_ARM64_OUTDIR": str(outdir), **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_results_are_named_by_the_run_date_and_never_overwritten(tmp_path):
    import datetime
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    env = {k: v for k, v in os.environ.items() if k != "SERNET_ARM64_DATE"}
    proc = subprocess.run(["bash", str(SCRIPT), "--result-name"], capture_output=True, text=True,
                          env={**env, "SERNET_ARM64_OUTDIR": str(tmp_path)})
    assert proc.stdout.strip() == f"{tmp_path}/arm64-{today}"
    (tmp_path / f"arm64-{today}.json").write_text("{}")
    assert _result_name(tmp_path, SERNET_ARM64_DATE=today) == f"{tmp_path}/arm64-{today}-2"
    (tmp_path / f"arm64-{today}-2.md").write_text("")
    assert _result_name(tmp_path, SERNET_ARM64_DATE=today) == f"{tmp_path}/arm64-{today}-3"
    proc = subprocess.run(["bash", str(SCRIPT), "--result-name"], capture_output=True, text=True,
                          env={**os.environ, "SERNET_ARM64_DATE": "a b"})
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "SERNET_ARM64_DATE" in proc.stderr


def _compare():
    import importlib.util
    spec = importlib.util.spec_from_file_location("arm64_compare", SCRIPT.with_name("compare.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_run(work: Path, compare, tests_failed: int = 0) -> None:
    """check.sh's run folder with the same outputs on both sides."""
    clips = [f"clip{i}.wav" for i in range(7)]
    for side in (work / "x86_64", work / "arm64-out" / "arm64"):
        side.mkdir(parents=True)
        times = []
        for m in compare.MODELS:
            rows = [{"file": f"/x/{c}", "label": "anger", "confidence": 0.9, "duration": 3.0,
                     "probabilities": {"anger": 0.9, "sadness": 0.1}, "windows": []} for c in clips]
            (side / f"classify-{m}.json").write_text(json.dumps(rows))
            times.append(f"classify-{m}\t0\t100\tsernet-edge classify -m {m}")
        (side / "listen.jsonl").write_text(json.dumps(
            {"timestamp": 0.5, "label": "anger", "gated": False, "level_dbfs": -20.0,
             "probabilities": {"anger": 0.9, "sadness": 0.1}}) + "\n")
        (side / "bench.json").write_text(json.dumps(
            {"models": [{"name": "m.tflite", "macs": 1, "features": {"seconds": 3.0}}]}))
        (side / "times.tsv").write_text("\n".join(times) + "\n")
    out = work / "arm64-out"
    (out / "env.txt").write_text("uname_m=aarch64\n")
    (out / "steps.tsv").write_text("pytest\t0\t1000\n")
    failures = "".join(f'<testcase classname="t" name="f{i}"><failure/></testcase>' for i in range(tests_failed))
    (out / "pytest.xml").write_text(f'<testsuites><testsuite tests="{10 + tests_failed}" failures="{tests_failed}" '
                                    f'errors="0" skipped="2" time="5">{failures}</testsuite></testsuites>')
    (work / "host-env.txt").write_text("host_cores=2\ncommit=abc\ndirty=0\ncheck_seconds=60\n")
    (work / "inside-seconds").write_text("50")
    (work / "inside-rc").write_text("0")


def test_the_verdict_follows_the_checks(tmp_path):
    compare = _compare()
    _fake_run(tmp_path / "ok", compare)
    assert compare.main(tmp_path / "ok", tmp_path / "arm64-pass") == 0
    text = (tmp_path / "arm64-pass.md").read_text()
    assert "all checks pass" in text and "This shows that the install works" in text
    _fake_run(tmp_path / "bad", compare, tests_failed=1)
    assert compare.main(tmp_path / "bad", tmp_path / "arm64-fail") == 1
    text = (tmp_path / "arm64-fail.md").read_text()
    assert "FAILED: device_tests_arm64" in text and "This shows that the install works" not in text
    assert "| device_tests_arm64 | FAIL |" in text
    assert json.loads((tmp_path / "arm64-fail.json").read_text())["ok"] is False


def test_a_result_is_never_overwritten(tmp_path):
    compare = _compare()
    _fake_run(tmp_path / "run", compare)
    (tmp_path / "arm64-x.md").write_text("as measured\n")
    assert compare.main(tmp_path / "run", tmp_path / "arm64-x") == 2
    assert (tmp_path / "arm64-x.md").read_text() == "as measured\n"
    assert not (tmp_path / "arm64-x.json").exists()
