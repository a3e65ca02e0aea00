"""`sernet-edge --help/--version` and `data info`: exact counts on small corpora, and bad input
as one line `error: ...` with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from sernet_edge import __version__
from sernet_edge.cli import main

RATE = 8000
# EMO-DB names -> seconds: 9 files, 30 s in all, median 3 s
EMODB = {"03a01Fa.wav": 1, "03a01Nc.wav": 2, "03a01Wa.wav": 3, "08a02Ab.wav": 4, "09b03Fd.wav": 5,
         "11b01Eb.wav": 6, "11b01Lb.wav": 7, "13a05Tc.wav": 1, "16b10Td.wav": 1}


def wav(path: Path, seconds: float, rate: int = RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(int(seconds * rate)), rate, subtype="PCM_16")
    return path


@pytest.fixture
def emodb(tmp_path) -> Path:
    root = tmp_path / "emodb"
    for name, seconds in EMODB.items():
        wav(root / "wav" / name, seconds)
    return root


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def assert_one_line_error(code, out, err, *needles):
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err


# ---- the group ----

def test_help_lists_commands():
    code, out, _ = run("--help")
    assert code == 0
    assert "Speech emotion recognition on small devices" in out
    for command in ("data", "train"):
        assert f"  {command} " in out
    code, out, _ = run("data", "info", "--help")
    assert code == 0 and "--speaker-pattern" in out and "--subset" in out


def test_version():
    code, out, _ = run("--version")
    assert code == 0 and out == f"sernet-edge, version {__version__}\n"


# ---- data info ----

def test_data_info_emodb(emodb):
    code, out, err = run("data", "info", emodb)
    assert code == 0 and err == ""
    assert lines(out) == [
        f"corpus emodb at {emodb}",
        "files 9 classes 7 speakers 6 F 4 M 2",   # 08, 09, 13, 16 female; 03, 11 male
        "per class",
        "anger 1", "boredom 1", "disgust 1", "fear 1", "happiness 2", "neutral 1", "sadness 2",
        "per speaker",
        "03 3", "08 1", "09 1", "11 2", "13 1", "16 1",
        "durations total 0.5 min min 1.00 s median 3.00 s max 7.00 s",
    ]


def test_data_info_without_durations(emodb):
    code, out, _ = run("data", "info", "--no-durations", "--corpus-type", "emodb", emodb)
    assert code == 0 and "files 9 classes 7 speakers 6 F 4 M 2" in lines(out)
    assert "durations" not in out


def test_data_info_reports_unreadable_files(emodb):
    bad = emodb / "wav" / "16b10Td.wav"
    bad.write_bytes(bad.read_bytes()[:1000])   # cut short: the header promises 16000 bytes
    code, out, err = run("data", "info", emodb)
    assert code == 0
    assert "files 9 classes 7 speakers 6 F 4 M 2" in lines(out)
    assert "durations total 0.5 min min 1.00 s median 3.50 s max 7.00 s" in lines(out)
    (message,) = lines(err)
    assert message.startswith(f"unreadable: {bad}: truncated file")


def test_data_info_folder_with_speaker_pattern(tmp_path):
    root = tmp_path / "mine"
    for name, seconds in [("angry/spk1_a.wav", 2), ("angry/spk2_b.wav", 2), ("calm/spk1_c.wav", 4),
                          ("calm/spk3_d.wav", 4), ("calm/spk3_e.wav", 8)]:
        wav(root / name, seconds)
    code, out, _ = run("data", "info", root, "--speaker-pattern", r"(?P<speaker>spk\d)_")
    assert code == 0
    # "angry" is a spelling of anger; "calm" is its own label; a folder corpus has no sexes
    assert lines(out) == [f"corpus mine at {root}", "files 5 classes 2 speakers 3", "per class",
                          "anger 2", "calm 3", "per speaker", "spk1 2", "spk2 1", "spk3 2",
                          "durations total 0.3 min min 2.00 s median 4.00 s max 8.00 s"]
    code, out, _ = run("data", "info", root, "--no-durations")
    assert code == 0 and "files 5 classes 2 speakers 1" in lines(out) and "unknown 5" in lines(out)


def test_data_info_iemocap_subsets(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    turns = {"Ses01F_impro01": [("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M001", "exc"),
                                ("Ses01F_impro01_F002", "fru")],
             "Ses01F_script01_1": [("Ses01F_script01_1_F000", "ang")]}
    ev = root / "Session1" / "dialog" / "EmoEvaluation"
    ev.mkdir(parents=True)
    for dialog, rows in turns.items():
        text = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n" + "".join(
            f"[{i}.0000 - {i}.5000]\t{utt}\t{cat}\t[2.5000, 2.5000, 2.5000]\nC-E2:\tNeutral;\t()\n\n"
            for i, (utt, cat) in enumerate(rows))
        (ev / f"{dialog}.txt").write_text(text)
        for utt, _ in rows:
            wav(root / "Session1" / "sentences" / "wav" / dialog / f"{utt}.wav", 1)
    code, out, _ = run("data", "info", root)
    assert code == 0
    assert lines(out)[:2] == [f"corpus iemocap-improvised at {root}",
                              "files 2 classes 4 speakers 2 F 1 M 1"]
    assert lines(out)[2:7] == ["per class", "anger 0", "happiness 1", "neutral 1", "sadness 0"]
    assert "Ses01M 1" in lines(out)
    code, out, _ = run("data", "info", root, "--subset", "all")
    assert code == 0 and "files 3 classes 4 speakers 2 F 1 M 1" in lines(out)
    assert "anger 1" in lines(out)


# ---- bad input ----

def test_missing_folder(tmp_path):
    assert_one_line_error(*run("data", "info", tmp_path / "nowhere"), "nowhere", "no such folder")


def test_file_instead_of_folder(tmp_path):
    path = wav(tmp_path / "03a01Fa.wav", 1)
    assert_one_line_error(*run("data", "info", path), str(path), "not a folder")


def test_empty_folder(tmp_path):
    assert_one_line_error(*run("data", "info", tmp_path), str(tmp_path), "layout not recognised",
                          "EMO-DB", "CREMA-D", "folder per label")


def test_bad_speaker_pattern(tmp_path):
    wav(tmp_path / "angry" / "a.wav", 1)
    assert_one_line_error(*run("data", "info", tmp_path, "--speaker-pattern", "(oops"),
                          "bad --speaker-pattern")
    assert_one_line_error(*run("data", "info", tmp_path, "--speaker-pattern", r"spk(\d)"),
                          "a.wav", "does not match")


def test_bad_option_value_is_a_usage_error(emodb):
    code, out, err = run("data", "info", emodb, "--subset", "everything")
    assert code == 2 and "Invalid value for '--subset'" in err and "Traceback" not in out + err


# ---- the installed command, for real ----

def test_installed_command():
    exe = Path(sys.executable).with_name("sernet-edge")
    if not exe.exists():
        pytest.skip(f"no installed sernet-edge next to {sys.executable}")
    done = subprocess.run([str(exe), "data", "info", "/nonexistent/corpus"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "error: /nonexistent/corpus: no such folder\n"
