"""One story for extras: every command that needs an extra that is not installed says which, in
one line, with exit code 2, as `listen` does; every extra is in the README's install table.
A missing package is simulated with `sys.modules[name] = None` (its import then fails)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from sernet_edge import extras
from sernet_edge.cli import main

REPO = Path(__file__).resolve().parents[1]


def one_line(args, missing, monkeypatch):
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 2, res.output
    assert res.stdout == "" and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    return res.stderr


@pytest.mark.parametrize("command", ["train", "convert"])
def test_train_and_convert_without_the_train_extra(command, mini_emodb, tmp_path, monkeypatch):
    args = {"train": ["train", mini_emodb, "-o", tmp_path / "run"],
            "convert": ["convert", tmp_path / "model.keras", "-o", tmp_path / "out"]}[command]
    err = one_line(args, ("tensorflow", "keras"), monkeypatch)
    assert err == (f"error: TensorFlow is not installed: {command} needs the [train] extra: "
                   "pip install '.[train]' in the sernet-edge folder\n")
    assert not (tmp_path / "run").exists()


def test_listen_without_the_mic_extra(monkeypatch):
    err = one_line(["listen", "--list-devices"], ("sounddevice",), monkeypatch)
    assert err == ("error: sounddevice is not installed: the [mic] extra: pip install '.[mic]' "
                   "in the sernet-edge folder\n")


def test_webrtc_gate_without_the_vad_extra(clips, monkeypatch):
    err = one_line(["classify", "--vad", "webrtc", clips[0]], ("webrtcvad",), monkeypatch)
    assert "[vad] extra: pip install '.[vad]'" in err


def test_bench_chart_without_the_plot_extra(tmp_path, monkeypatch):
    err = one_line(["bench", "--no-timing", "--no-micro", "--chart", tmp_path / "c.png"],
                   ("matplotlib",), monkeypatch)
    assert err == ("error: matplotlib is not installed: bench --chart needs the [plot] extra: "
                   "pip install '.[plot]' in the sernet-edge folder\n")


def test_any_missing_module_of_an_extra_is_one_line_not_an_internal_error(mini_emodb, monkeypatch):
    """Where no check ran first, the CLI's error handler still names the extra."""
    from sernet_edge import corpora

    def load(*a, **k):
        raise ModuleNotFoundError("No module named 'keras'", name="keras")
    monkeypatch.setattr(corpora, "load_corpus", load)
    res = CliRunner().invoke(main, ["data", "info", str(mini_emodb)])
    assert res.exit_code == 2
    assert res.stderr == ("error: TensorFlow (Keras) is not installed: data needs the [train] "
                          "extra: pip install '.[train]' in the sernet-edge folder\n")

    def broken(*a, **k):
        raise ModuleNotFoundError("No module named 'nosuch'", name="nosuch")
    monkeypatch.setattr(corpora, "load_corpus", broken)
    res = CliRunner().invoke(main, ["data", "info", str(mini_emodb)])
    assert res.exit_code == 1 and res.stderr.startswith("error: internal error: ModuleNotFoundError")


def test_every_extra_is_in_the_readme_install_table():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Install"):readme.index("## Use")]
    for extra in declared:
        assert f"'.[{extra}]'" in table, extra
    # and every extra a message names is one pyproject declares
    for extra, _ in extras.MODULES.values():
        assert extra in declared


def test_the_plot_hint_names_the_plot_extra():
    from sernet_edge.plots import INSTALL_HINT
    assert INSTALL_HINT == "the [plot] extra: pip install '.[plot]' in the sernet-edge folder"
