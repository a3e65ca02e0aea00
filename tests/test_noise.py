"""Noise and rooms as a room mixes them; gates that leave the noise out; the speech's SNR."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from sernet_edge.audio import load_audio
from sernet_edge.cli import main
from sernet_edge.errors import SernetError
from sernet_edge.noise import (Room, Talkers, babble, coloured_noise, read_noise_files,
                               speech_power)
from sernet_edge.speech import SpeechTrack, recording_gate, speech_only, steady_noise_db
from sernet_edge.vad import DEFAULT_ENERGY_DB, EnergyGate, level_dbfs

RATE = 16000


def kept_seconds(y: np.ndarray, track_noise: bool = True) -> tuple[np.ndarray, SpeechTrack]:
    track = SpeechTrack(RATE)
    gate, floor = recording_gate(lambda: [y], RATE, "energy", track, track_noise)
    mask = np.zeros(len(y), bool)
    for _ in speech_only([y], gate, RATE, track, floor):
        pass
    for seg in track.segments:
        mask[seg.start:seg.start + seg.length] = True
    return mask, track


@pytest.mark.parametrize("kind,slope", [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_coloured_noise_has_unit_rms_and_its_slope(kind, slope):
    x = coloured_noise(kind, 10 * RATE, np.random.default_rng(0))
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, rel=1e-5)
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    band = lambda lo: power[(f >= lo) & (f < 2 * lo)].mean()   # noqa: E731
    # dB per octave between the 250-500 Hz and 1-2 kHz octaves, over two octaves
    measured = 10 * np.log10(band(1000) / band(250)) / 2
    assert measured == pytest.approx(slope, abs=0.5)


def test_room_mixes_at_the_snr_through_the_whole_clip_and_the_same_way_twice(clips):
    x = load_audio(clips[0])
    room = Room("pink", 10, seed=3)
    y = room.apply(x, "a")
    assert len(y) == len(x) + 2 * RATE                  # a second of noise each side
    assert np.array_equal(y, room.apply(x, "a"))        # the same clip, the same mix
    assert not np.array_equal(y, room.apply(x, "b"))    # another name, another draw
    pad = RATE
    noise = np.concatenate([y[:pad], y[-pad:]]).astype(np.float64)
    snr = 10 * np.log10(speech_power(x) / np.mean(noise ** 2))
    assert snr == pytest.approx(10, abs=0.5)
    assert Room().apply(x) is not None and np.array_equal(Room().apply(x), x)   # clean: as it is


def test_babble_leaves_out_the_clips_own_speaker(clips):
    talkers = Talkers([(str(p), p.name[:2]) for p in clips], n=20)
    own = clips[0].name[:2]
    voices = talkers(own)
    assert voices and len(voices) < len(talkers.voices)
    assert all(not np.array_equal(v, x) for v in voices for x, spk in talkers.voices if spk == own)
    mix = babble(voices, 3 * RATE, np.random.default_rng(0))
    assert np.sqrt(np.mean(mix ** 2)) == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(SernetError, match="at least two speakers"):
        Talkers([(str(clips[0]), "a")])


def test_recorded_noise_files_and_bad_ones(tmp_path):
    sf.write(tmp_path / "fan.wav", coloured_noise("pink", RATE, np.random.default_rng(1)) * 0.1, RATE)
    assert len(read_noise_files([tmp_path])) == 1
    sf.write(tmp_path / "silent.wav", np.zeros(RATE, np.float32), RATE)
    with pytest.raises(SernetError, match="silent"):
        read_noise_files([tmp_path / "silent.wav"])
    with pytest.raises(SernetError, match="no such noise"):
        read_noise_files([tmp_path / "nope.wav"])
    with pytest.raises(SernetError, match="unknown noise"):
        Room("traffic", 10)
    with pytest.raises(SernetError, match="give both"):
        Room("pink", None)


def test_a_simulated_room_rings_on(clips):
    pytest.importorskip("pyroomacoustics", reason="simulated rooms need the [rooms] extra")
    x = load_audio(clips[0])
    y = Room(rt60=0.6, seed=0).apply(x, "a")
    assert len(y) > len(x) + 2 * RATE                   # the echo's tail
    tail = y[RATE + len(x):RATE + len(x) + RATE // 10]  # 0.1 s after the clip ends
    assert level_dbfs(tail) > level_dbfs(np.zeros(1)) + 40
    with pytest.raises(SernetError, match="reverberation time"):
        Room(rt60=5.0)


def test_steady_noise_is_found_in_a_room_and_not_in_clean_speech(clips):
    for p in clips:
        x = load_audio(p)
        _, track = kept_seconds(x)
        assert track.noise_db is None and track.snr_db is None, p.name
    levels = np.array([-40.0] * 8 + [-20, -15, -18, -30, -16] + [-40.5] * 8)
    assert steady_noise_db(levels) == pytest.approx(-40.5, abs=0.5)
    # quiet frames of speech: uneven, never 0.5 s within 6 dB of each other
    assert steady_noise_db(np.array([-45, -20, -38, -15, -44, -18, -30, -47, -16, -42.0])) is None


@pytest.mark.parametrize("snr", [20, 10])
def test_the_file_gate_leaves_steady_noise_out_and_keeps_the_speech(clips, snr):
    x = load_audio(clips[1])
    clean, _ = kept_seconds(x)
    room = Room("pink", snr, seed=0, pad_seconds=2.0)
    y = room.apply(x, "a")
    pad = 2 * RATE
    kept, track = kept_seconds(y)
    before, _ = kept_seconds(y, track_noise=False)
    noise_only = np.r_[0:pad, pad + len(x):len(y)]
    assert before[noise_only].mean() > 0.5              # the old floor kept the noise as speech
    assert kept[noise_only].mean() < 0.05
    assert kept[pad:pad + len(x)][clean].mean() > 0.85
    assert track.snr_db == pytest.approx(snr, abs=2.0)


def test_listens_gate_follows_the_noise_floor():
    rng = np.random.default_rng(0)
    gate = EnergyGate(DEFAULT_ENERGY_DB, RATE)
    hop = RATE // 2
    fan = coloured_noise("pink", 6 * RATE, rng) * 10 ** (-35 / 20)     # above -45 dBFS
    passed = [gate.is_speech(fan[i:i + hop], level_dbfs(fan[i:i + hop]))
              for i in range(0, len(fan), hop)]
    assert not any(passed)                              # noise alone is never speech, from the first hop
    loud = fan[:hop] + coloured_noise("white", hop, rng) * 10 ** (-20 / 20)
    assert gate.is_speech(loud, level_dbfs(loud))       # 15 dB over the fan: speech
    fixed = EnergyGate(DEFAULT_ENERGY_DB)
    assert fixed.is_speech(fan[:hop], level_dbfs(fan[:hop]))   # without tracking it passed


def test_noisy_speech_is_flagged_and_the_snr_reported(clips, tmp_path):
    x = load_audio(clips[2])
    for snr, flagged in ((30, False), (5, True)):
        y = Room("pink", snr, seed=0).apply(x, "a")
        sf.write(tmp_path / f"n{snr}.wav", y, RATE)
    res = CliRunner().invoke(main, ["classify", str(tmp_path / "n30.wav"), str(tmp_path / "n5.wav"),
                                    "-f", "json"])
    assert res.exit_code == 0, res.output
    rows = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads(res.stdout)}
    assert rows["n30.wav"]["snr_db"] == pytest.approx(30, abs=3)
    assert rows["n5.wav"]["snr_db"] == pytest.approx(5, abs=3)
    assert "noisy" not in [w["code"] for w in rows["n30.wav"]["warnings"]]
    assert "noisy" in [w["code"] for w in rows["n5.wav"]["warnings"]]
    table = CliRunner().invoke(main, ["classify", str(tmp_path / "n5.wav")])
    assert "SNR" in table.stdout.splitlines()[0] and "[noisy]" in table.stdout
    csv = CliRunner().invoke(main, ["classify", str(tmp_path / "n5.wav"), "-f", "csv"])
    header, row = csv.stdout.splitlines()[:2]
    assert float(row.split(",")[header.split(",").index("snr_db")]) == rows["n5.wav"]["snr_db"]


def test_evaluate_in_noise_with_own_recordings(mini_emodb, tmp_path):
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    sf.write(noise_dir / "fan.wav", coloured_noise("brown", 2 * RATE, np.random.default_rng(2)) * 0.1, RATE)
    out = tmp_path / "eval"
    res = CliRunner().invoke(main, ["evaluate", "multi", str(mini_emodb), "--noise", str(noise_dir),
                                    "--snr", "10", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "room   files 10 dB" in res.output
    report = json.loads((out / "evaluate.json").read_text())
    assert report["condition"]["snr_db"] == 10 and report["condition"]["noise"] == str(noise_dir)
    assert all(c["snr_db"] is not None for c in report["corpora"][0]["clips"] if c["predicted"] != "no speech")
    clean = CliRunner().invoke(main, ["evaluate", "multi", str(mini_emodb), "--noise", "babble",
                                      "--snr", "20"])
    assert clean.exit_code == 0, clean.output
    for args, msg in ((["--snr", "10"], "--snr needs --noise"), (["--noise", "pink"], "needs --snr"),
                      (["--noise", str(tmp_path / "none.wav"), "--snr", "5"], "no such noise")):
        bad = CliRunner().invoke(main, ["evaluate", "multi", str(mini_emodb), *args])
        assert bad.exit_code == 2 and msg in bad.output, bad.output


def test_room_augmentation_is_drawn_the_same_way_twice(monkeypatch):
    """`train --augment room`: a training row is mixed on the fly, the same for the same stream,
    otherwise left as it is; babble never takes the row's own speaker."""
    pytest.importorskip("keras", reason="the trainer's batches need the [train] extra")
    pytest.importorskip("pyroomacoustics", reason="simulated rooms need the [rooms] extra")
    from sernet_edge.corpora import load_emodb
    from sernet_edge.features import FeatureConfig, extract
    from sernet_edge.runtime import bundled_clips
    from sernet_edge.train import augment
    monkeypatch.setattr(augment, "ROOM_BANK", 2)
    corpus = load_emodb(bundled_clips()[0].parent)
    cfg = FeatureConfig(seconds=3.0)
    data = augment.RoomAudio(corpus, cfg, seed=0)
    rows = augment.RoomAudio.subset(data, np.ones(len(corpus.items), bool))
    mixed = [rows.features(r, np.random.default_rng([1, r])) for r in range(len(rows))]
    again = [rows.features(r, np.random.default_rng([1, r])) for r in range(len(rows))]
    kept = [rows.features(0, np.random.default_rng([2, k])) is None for k in range(20)]
    assert any(kept) and not all(kept)                   # p 0.7 mixed, p 0.3 as it is
    for r, (a, b) in enumerate(zip(mixed, again)):
        assert (a is None) == (b is None) and (a is None or np.array_equal(a, b))
        if a is not None:
            clean = extract(data.audio[r], cfg)[..., None]
            assert a.shape == clean.shape and not np.array_equal(a, clean)
    assert rows.features(len(rows), np.random.default_rng(0)) is None   # an offline copy's row
