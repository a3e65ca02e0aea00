"""Long recordings: `classify --segments` (the emotion timeline in every format), `--plot`, the
table's [mixed] mark for a file whose windows disagree, and a file named twice classified once."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from sernet_edge.cli import main
from sernet_edge.runtime import Window
from sernet_edge.segments import Segment, disagree, segments, smoothed

LABELS = ["anger", "sadness"]


def windows(answers: str, hop: float = 1.0, length: float = 3.0, p: float = 0.8) -> list[Window]:
    """One window a letter (a: anger, s: sadness), `p` for that class, every `hop` seconds."""
    out = []
    for i, a in enumerate(answers):
        probs = {"anger": p, "sadness": 1 - p} if a == "a" else {"anger": 1 - p, "sadness": p}
        lab = "anger" if a == "a" else "sadness"
        out.append(Window(i * hop, i * hop + length, lab, p, probs))
    return out


def test_runs_become_segments_that_meet_in_the_middle_of_the_overlap():
    segs = segments(windows("aaaassss"), LABELS)
    assert [(s.label, s.windows) for s in segs] == [("anger", 4), ("sadness", 4)]
    # window 3 is [3, 6], window 4 [4, 7]: they meet at 5
    assert (segs[0].start, segs[0].end, segs[1].start, segs[1].end) == (0.0, 5.0, 5.0, 10.0)
    assert segs[0].confidence == pytest.approx(0.8)
    assert disagree(segs)


def test_one_odd_window_is_smoothed_away():
    segs = segments(windows("aaasaaa"), LABELS)
    assert [s.label for s in segs] == ["anger"] and segs[0].windows == 7
    assert not disagree(segs)
    # its confidence is the mean of anger's own probability, the odd window's 0.2 included
    assert segs[0].confidence == pytest.approx((6 * 0.8 + 0.2) / 7)


def test_smoothing_is_a_centred_mean():
    x = np.array([[1.0, 0], [0, 1], [0, 1], [1, 0]])
    np.testing.assert_allclose(smoothed(x, 3), [[0.5, 0.5], [1 / 3, 2 / 3], [1 / 3, 2 / 3], [0.5, 0.5]])
    np.testing.assert_allclose(smoothed(x, 1), x)


def test_no_windows_no_segments():
    assert segments([], LABELS) == []
    one = segments(windows("s"), LABELS)
    assert one == [Segment(0.0, 3.0, "sadness", pytest.approx(0.8), 1)]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, clips):
    """About 30 s: anger clips, then sadness clips, then anger again (bundled clips repeated)."""
    by = {p.name: p for p in clips}
    parts = []
    for name, times in (("03a01Wa.wav", 6), ("13a05Tc.wav", 3), ("03a01Wa.wav", 6)):
        x, rate = sf.read(by[name], dtype="float32")
        parts += [x] * times
    path = tmp_path_factory.mktemp("long") / "mixed.wav"
    sf.write(path, np.concatenate(parts), rate)
    return path


def run(*args):
    res = CliRunner().invoke(main, ["classify", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_table_marks_a_mixed_file_and_points_to_segments(mixed, clips):
    out = run(mixed, clips[0])
    row = next(line for line in out.splitlines() if line.startswith("mixed.wav"))
    assert "[mixed: 3 segments]" in row
    assert "--segments gives the timeline" in out
    one = next(line for line in out.splitlines() if line.startswith(clips[0].name))
    assert "[mixed" not in one


def test_segments_in_every_format(mixed):
    table = run(mixed, "--segments")
    rows = [line.split(" s ")[1].split() for line in table.splitlines()[2:5]]
    assert [r[0] for r in rows] == ["anger", "sadness", "anger"], table
    data = json.loads(run(mixed, "--segments", "-f", "json"))
    segs = data[0]["segments"]
    assert [s["label"] for s in segs] == ["anger", "sadness", "anger"]
    assert set(segs[0]) == {"start", "end", "label", "confidence", "windows"}
    assert segs[0]["start"] == data[0]["windows"][0]["start"]
    assert all(a["end"] == b["start"] for a, b in zip(segs, segs[1:]))
    assert sum(s["windows"] for s in segs) == len(data[0]["windows"])
    rows = list(csv.DictReader(io.StringIO(run(mixed, "--segments", "-f", "csv"))))
    assert [r["row"] for r in rows] == ["file", "segment", "segment", "segment"]
    assert [r["label"] for r in rows[1:]] == ["anger", "sadness", "anger"]
    assert float(rows[1]["start"]) == segs[0]["start"] and float(rows[3]["end"]) == segs[2]["end"]
    # without the flag the JSON stays as it was
    assert "segments" not in json.loads(run(mixed, "-f", "json"))[0]


def test_plot_draws_a_png(mixed, clips, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs the [plot] extra")
    png = tmp_path / "timeline.png"
    run(mixed, clips[0], "--plot", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_one_line_before_any_work(clips, tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = CliRunner().invoke(main, ["classify", str(clips[0]), "--plot", str(tmp_path / "t.png")])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr == ("error: matplotlib is not installed: classify --plot needs the [plot] "
                          "extra: pip install '.[plot]' in the sernet-edge folder\n")


def test_a_file_named_twice_is_classified_once(clips, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for p in clips[:2]:
        shutil.copy(p, folder / p.name)
    data = json.loads(run(folder / clips[0].name, folder, str(folder) + "/0*.wav", "-f", "json"))
    assert [d["file"] for d in data] == [str(folder / clips[0].name), str(folder / clips[1].name)]
