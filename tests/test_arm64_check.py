"""The Raspberry Pi install in an emulated Debian arm64 root (benchmarks/arm64/check.sh).

Opt-in: it builds a Debian root under qemu and installs into it (20-60 minutes on 2 cores), so
it runs only with SERNET_ARM64_CHECK=1, as root, where binfmt_misc exists.
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
        return "the emulated arm64 check is opt-in: set SERNET_ARM64_CHECK=1 (as root; 20-60 min)"
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
