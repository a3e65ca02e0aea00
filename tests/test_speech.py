"""Answers come from speech: silence, pauses and noise are left out, no speech gets no emotion,
poor input is flagged, and output paths that cannot be written are the user's errors."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from sernet_edge.cli import main
from sernet_edge.metrics import scores
from sernet_edge.runtime import BUNDLED, EmotionClassifier
from sernet_edge.speech import NO_SPEECH, SpeechTrack, speech_only

RATE = 16000


def noise(n: int, dbfs: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 10 ** (dbfs / 20), n).astype(np.float32)


def quietest_point(x: np.ndarray, frame: int = 800) -> int:
    """The start of the quietest 50 ms in the middle third: a pause between words."""
    third = len(x) // 3
    starts = range(third, 2 * third - frame, frame // 2)
    return min(starts, key=lambda i: float(np.mean(x[i:i + frame] ** 2)))


def padded(x: np.ndarray, seed: int) -> np.ndarray:
    """`x` with 2 s of silence before, 1.5 s inserted at a pause, 3 s after, all under -60 dBFS
    noise, as a recording with pauses would be."""
    cut = quietest_point(x)
    y = np.concatenate([np.zeros(2 * RATE), x[:cut], np.zeros(int(1.5 * RATE)), x[cut:],
                        np.zeros(3 * RATE)]).astype(np.float32)
    return y + noise(len(y), -65, seed)


@pytest.fixture(scope="module")
def clf():
    return EmotionClassifier()


@pytest.fixture(scope="module")
def padded_corpus(tmp_path_factory, clips):
    folder = tmp_path_factory.mktemp("padded")
    pairs = []
    for i, p in enumerate(clips):
        x, rate = sf.read(p, dtype="float32")
        assert rate == RATE
        out = folder / f"padded-{p.name}"
        sf.write(out, padded(x, i), RATE, subtype="PCM_16")
        pairs.append((p, out))
    return pairs


def test_silence_and_pauses_do_not_move_the_answer(clf, padded_corpus):
    for clip, pad in padded_corpus:
        alone, with_pauses = clf.classify_file(clip), clf.classify_file(pad)
        assert with_pauses.label == alone.label, (clip.name, alone, with_pauses)
        assert with_pauses.duration > alone.duration + 6
        # what was kept is the speech: the clip's length, give or take the kept edges
        assert abs(with_pauses.speech_seconds - alone.speech_seconds) < 1.0
        assert all(2.0 - 0.5 < w.start for w in with_pauses.windows)   # times in the file


def test_the_cli_gives_the_same_labels_for_the_padded_corpus(padded_corpus):
    args = ["classify", "-f", "json"]
    alone = CliRunner().invoke(main, args + [str(c) for c, _ in padded_corpus])
    pads = CliRunner().invoke(main, args + [str(p) for _, p in padded_corpus])
    assert alone.exit_code == 0 and pads.exit_code == 0, pads.output
    assert [r["label"] for r in json.loads(alone.stdout)] == [r["label"] for r in json.loads(pads.stdout)]


@pytest.mark.parametrize("name,samples", [
    ("digital silence", np.zeros(3 * RATE, np.float32)),
    ("dithered silence", np.random.default_rng(1).integers(-1, 2, 3 * RATE).astype(np.float32) / 32768),
    ("low noise", noise(3 * RATE, -50)),
    ("loud steady noise", noise(5 * RATE, -20)),
    ("a tone", 0.3 * np.sin(2 * np.pi * 100 * np.arange(3 * RATE) / RATE).astype(np.float32)),
    ("a 0.1 s clip of silence", np.zeros(RATE // 10, np.float32)),
])
def test_no_speech_is_no_emotion(clf, name, samples):
    r = clf.classify_array(samples, RATE)
    assert r.label == NO_SPEECH and r.confidence is None and r.probabilities is None, name
    assert r.speech_seconds == 0 and r.windows == [] and not r.has_speech
    assert r.to_dict()["label"] == NO_SPEECH


def test_half_an_hour_of_silence_streams_to_no_speech(clf, tmp_path):
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", RATE, 1, "PCM_16") as f:
        for _ in range(30):
            f.write(np.zeros(60 * RATE, np.int16))
    r = clf.classify_file(path)
    assert r.label == NO_SPEECH and r.duration == pytest.approx(1800)


def test_gate_off_classifies_everything(clips):
    r = EmotionClassifier(vad="off").classify_array(np.zeros(3 * RATE, np.float32), RATE)
    assert r.label != NO_SPEECH and r.speech_seconds == 3.0


def test_speech_only_keeps_short_pauses_and_cuts_long_ones():
    class Loud:
        def is_speech(self, frame, level):
            return level > -40

    tone = 0.3 * np.ones(RATE, np.float32)
    x = np.concatenate([np.zeros(RATE), tone, np.zeros(RATE // 2), tone, np.zeros(3 * RATE), tone])
    track = SpeechTrack(RATE)
    kept = np.concatenate(list(speech_only([x[:7000], x[7000:]], Loud(), RATE, track)))
    # 0.3 s before, the 0.5 s pause kept whole, the 3 s pause cut to 0.3 s each side, none after
    assert len(kept) == track.speech_samples == int(RATE * (0.3 + 1 + 0.5 + 1 + 0.6 + 1))
    assert track.samples == len(x)
    assert [(s.start, s.length) for s in track.segments] == [
        (int(0.7 * RATE), int(3.1 * RATE)), (int(6.2 * RATE), int(1.3 * RATE))]
    assert track.recording_time(int(3.1 * RATE)) == 6.2
    assert track.recording_time(int(3.1 * RATE), end=True) == 3.8


def test_short_speech_is_flagged(clf, clips):
    x, _ = sf.read(clips[0], dtype="float32")
    r = clf.classify_array(x[:int(0.8 * RATE)], RATE)
    assert r.label != NO_SPEECH
    assert [w["code"] for w in r.warnings] == ["short"]


def test_narrowband_low_rate_and_clipping_are_flagged(clf, clips, tmp_path):
    import soxr
    x, _ = sf.read(clips[4], dtype="float32")
    phone = soxr.resample(x, RATE, 8000)
    sf.write(tmp_path / "phone8k.wav", phone, 8000)
    assert "low_rate" in codes(clf.classify_file(tmp_path / "phone8k.wav"))
    sf.write(tmp_path / "phone16k.wav", soxr.resample(phone, 8000, RATE), RATE)
    assert codes(clf.classify_file(tmp_path / "phone16k.wav")) == ["narrowband"]
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / RATE) > 6500] = 0     # as a 24 kbit/s MP3 cuts it
    sf.write(tmp_path / "lowpass.wav", np.fft.irfft(spectrum, len(x)), RATE)
    assert codes(clf.classify_file(tmp_path / "lowpass.wav")) == ["band_limited"]
    sf.write(tmp_path / "clipped.wav", np.clip(x * 20, -1, 1), RATE)
    assert codes(clf.classify_file(tmp_path / "clipped.wav")) == ["clipped"]
    assert all(codes(clf.classify_file(clip)) == [] for clip in clips)


def codes(result) -> list[str]:
    return [w["code"] for w in result.warnings]


def test_cli_no_speech_in_every_format_and_its_exit_code(tmp_path, clips):
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(3 * RATE, np.int16), RATE)
    files = [str(silent), str(clips[0])]
    table = CliRunner().invoke(main, ["classify", *files])
    assert table.exit_code == 3
    row = next(line for line in table.stdout.splitlines() if line.startswith("silence.wav"))
    assert row.split()[1:3] == ["no", "speech"]
    js = CliRunner().invoke(main, ["classify", "-f", "json", *files])
    assert js.exit_code == 3
    first = json.loads(js.stdout)[0]
    assert first["label"] == NO_SPEECH and first["confidence"] is None and first["speech_seconds"] == 0
    rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(main, ["classify", "-f", "csv", *files]).stdout)))
    assert rows[0]["label"] == NO_SPEECH and rows[0]["confidence"] == "" and rows[0]["row"] == "file"
    assert rows[1]["label"] == "anger"


def test_cli_warns_once_per_flag_on_stderr(tmp_path, clips):
    x, _ = sf.read(clips[0], dtype="float32")
    short = tmp_path / "short.wav"
    sf.write(short, x[:int(0.8 * RATE)], RATE)
    res = CliRunner().invoke(main, ["classify", "-f", "json", str(short)])
    assert res.exit_code == 0
    assert res.stderr.count("warning:") == 1
    assert res.stderr.startswith(f"warning: {short}: only 0.") and "s of speech" in res.stderr
    assert json.loads(res.stdout)[0]["warnings"][0]["code"] == "short"


def test_windows_csv_says_which_row_is_the_file(clips):
    res = CliRunner().invoke(main, ["classify", "-f", "csv", "--windows", str(clips[5])])
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["row"] for r in rows] == ["file"] + ["window"] * (len(rows) - 1) and len(rows) > 2


def test_output_format_follows_the_file_name(tmp_path, clips):
    for name, check in (("out.json", json.loads), ("out.csv", lambda t: list(csv.reader(io.StringIO(t))))):
        res = CliRunner().invoke(main, ["classify", str(clips[0]), "-o", str(tmp_path / name)])
        assert res.exit_code == 0
        check((tmp_path / name).read_text())
    res = CliRunner().invoke(main, ["classify", str(clips[0]), "-o", str(tmp_path / "x.json"), "-f", "csv"])
    assert (tmp_path / "x.json").read_text().startswith("file,row,")


def bad_output_paths(tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("")
    return {"under a file": str(a_file / "x.json"), "a folder": str(tmp_path),
            "a read-only place": "/proc/sernet-test/x.json"}


@pytest.mark.parametrize("command", ["classify", "evaluate", "bench", "export-c"])
def test_every_bad_output_path_is_one_line_naming_it(command, tmp_path, clips, mini_emodb):
    for why, path in bad_output_paths(tmp_path).items():
        if command in ("export-c", "evaluate") and why == "a folder":
            continue    # their -o is a folder
        args = {"classify": ["classify", str(clips[0]), "-o", path],
                "evaluate": ["evaluate", "multi", str(mini_emodb), "-o", path + "/eval"],
                "bench": ["bench", "multi", "--no-timing", "--no-micro", "--json", path],
                "export-c": ["export-c", "multi-micro", "-o", path + "/fw"]}[command]
        res = CliRunner().invoke(main, args)
        lines = res.stderr.strip().splitlines()
        assert res.exit_code == 2, (why, res.output)
        assert lines[-1].startswith("error: ") and "cannot write" in lines[-1], (why, res.stderr)
        assert ".tmp" not in res.stderr and "Traceback" not in res.output


def test_scores_count_no_answer_as_wrong():
    s = scores([0, 0, 1, 1], [0, -1, 1, 1], ["a", "b"])
    assert s["recall"] == {"a": 0.5, "b": 1.0} and s["wa"] == 0.75 and s["n"] == 4
    assert s["no_answer"] == 1 and s["confusion"] == [[1, 0], [0, 2]]


@pytest.mark.parametrize("command", ["classify", "listen", "evaluate"])
def test_help_names_every_bundled_model(command):
    text = CliRunner().invoke(main, [command, "--help"]).output
    flat = re.sub(r"-\s+", "-", " ".join(text.split()))   # click wraps after hyphens
    for name in BUNDLED:
        assert name in flat, (command, name)
