"""Several corpora through the CLI: `data info` on a CREMA-D tree (splits, duplicates, sexes,
crowd-vote labels), `train` on the union of an EMO-DB and a CREMA-D tree (K-fold and
leave-one-corpus-out, per-corpus scores, --labels), and bad input as one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from conftest import write_crema_votes as write_votes

from sernet_edge.cli import main

FOUR = ["anger", "happiness", "neutral", "sadness"]


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def assert_one_line_error(code, out, err, *needles):
    assert code == 2, (code, out, err)
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def wav(path: Path, seconds: float, rate: int = 16000, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.2 * np.sin(2 * np.pi * rng.uniform(120, 400) * t) + 0.05 * rng.standard_normal(len(t))
    sf.write(str(path), x, rate, subtype="PCM_16")
    return path


# ---- data info on CREMA-D ----

# path -> seconds; the clip in both splits is counted once
CREMA_INFO = {"CremaTrain/1001_DFA_ANG_XX.wav": 2, "CremaTrain/1001_IEO_HAP_HI.wav": 3,
              "CremaTrain/1002_DFA_NEU_XX.wav": 1, "CremaTest/1002_ITS_SAD_LO.wav": 4,
              "CremaTest/1005_DFA_ANG_XX.wav": 2, "CremaTest/1001_DFA_ANG_XX.wav": 2}
CREMA_VOTES = {"1001_DFA_ANG_XX": "A", "1001_IEO_HAP_HI": "N", "1002_DFA_NEU_XX": "N:S",
               "1002_ITS_SAD_LO": "S", "1005_DFA_ANG_XX": "D"}


@pytest.fixture
def crema_info(tmp_path) -> Path:
    root = tmp_path / "crema-d"
    for name, seconds in CREMA_INFO.items():
        wav(root / name, seconds, rate=8000)
    return root


def test_data_info_crema_d(crema_info):
    code, out, err = run("data", "info", crema_info)
    assert code == 0 and err == ""
    assert lines(out) == [
        f"corpus crema-d at {crema_info}",
        "files 5 classes 6 speakers 3 F 1 M 2",          # 1001 and 1005 male, 1002 female
        "per class",
        "anger 2", "disgust 0", "fear 0", "happiness 1", "neutral 1", "sadness 1",
        "per speaker",
        "1001 2", "1002 2", "1005 1",
        "durations total 0.2 min min 1.00 s median 2.00 s max 4.00 s",
    ]


def test_data_info_crema_d_vote_labels(crema_info, tmp_path):
    votes = write_votes(tmp_path / "votes.csv", CREMA_VOTES)
    code, out, _ = run("data", "info", crema_info, "--label-source", "agreed", "--votes", votes,
                       "--no-durations")
    assert code == 0
    # kept: ANG voted A, NEU in the tie N:S, SAD voted S; dropped: HAP voted N, 1005 ANG voted D
    assert lines(out) == [f"corpus crema-d-agreed at {crema_info}",
                          "files 3 classes 6 speakers 2 F 1 M 1", "per class",
                          "anger 1", "disgust 0", "fear 0", "happiness 0", "neutral 1", "sadness 1",
                          "per speaker", "1001 1", "1002 2"]
    # the vote is the label; the tie is dropped. summaryTable.csv beside the corpus is found
    write_votes(crema_info.parent / "summaryTable.csv", CREMA_VOTES)
    code, out, _ = run("data", "info", crema_info, "--label-source", "voice", "--no-durations")
    assert code == 0
    assert lines(out)[1:9] == ["files 4 classes 6 speakers 3 F 1 M 2", "per class",
                               "anger 1", "disgust 1", "fear 0", "happiness 0", "neutral 1",
                               "sadness 1"]


def test_data_info_crema_d_without_votes(crema_info):
    assert_one_line_error(*run("data", "info", crema_info, "--label-source", "voice"),
                          str(crema_info), "summaryTable.csv", "--votes")


# ---- train on two corpora ----

EMODB_SPEAKERS = ("03", "08", "09", "10")          # M, F, F, M
CREMA_ACTORS = ("1001", "1002", "1003", "1005")    # M, F, F, M
EMODB_CODES = {"anger": "W", "happiness": "F", "neutral": "N", "sadness": "T"}
CREMA_CODES = {"anger": "ANG", "happiness": "HAP", "neutral": "NEU", "sadness": "SAD"}


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    """An EMO-DB-named tree and a CREMA-D-named tree: 4 speakers each, 4 classes, 3 clips
    per speaker and class (48 + 48), 0.5-1 s of generated audio; and a feature cache."""
    base = tmp_path_factory.mktemp("multi")
    rng = np.random.default_rng(0)
    emodb, crema = base / "emodb", base / "crema-d"
    for spk in EMODB_SPEAKERS:
        for label, code in EMODB_CODES.items():
            for text in ("a01", "a02", "b01"):
                wav(emodb / "wav" / f"{spk}{text}{code}a.wav", rng.uniform(0.5, 1.0),
                    seed=int(rng.integers(1 << 30)))
    for actor in CREMA_ACTORS:
        for label, code in CREMA_CODES.items():
            for sentence in ("DFA", "IEO", "ITS"):
                wav(crema / "AudioWAV" / f"{actor}_{sentence}_{code}_XX.wav", rng.uniform(0.5, 1.0),
                    seed=int(rng.integers(1 << 30)))
    return {"emodb": emodb, "crema": crema, "cache": base / "cache"}


def train(corpora, out, *extra):
    return run("train", corpora["emodb"], corpora["crema"], "-o", out, "--seconds", "1",
               "--epochs", "1", "--batch-size", "16", "--cache-dir", corpora["cache"], *extra)


def all_speakers():
    return sorted([f"emodb/{s}" for s in EMODB_SPEAKERS] + [f"crema-d/{a}" for a in CREMA_ACTORS])


def check_fold_results(out: Path, expected_folds: list[str]) -> list[dict]:
    results = [json.loads((out / "folds" / name / "result.json").read_text())
               for name in expected_folds]
    assert sorted(p.name for p in (out / "folds").iterdir()) == expected_folds
    for r in results:
        test, val, train_ = set(r["test_speakers"]), set(r["val"]), set(r["train"])
        assert not test & val and not test & train_ and not val & train_, r["fold"]
        assert test | val | train_ == set(all_speakers()), r["fold"]
        assert val and train_
        assert [h["epoch"] for h in r["history"]] == [1] and r["selected_epoch"] == 1
        assert len(r["corpus"]) == len(r["y_true"]) == r["test"]["n"]
    tested = sorted(s for r in results for s in r["test_speakers"])
    assert tested == all_speakers()       # every speaker tested exactly once
    return results


def test_train_two_corpora_cv(two_corpora, tmp_path):
    pytest.importorskip("tensorflow", reason="training needs the [train] extra (TensorFlow)")
    out = tmp_path / "run"
    code, stdout, err = train(two_corpora, out, "--cv", "2", "--no-final")
    assert code == 0, stdout + err
    report = json.loads((out / "report.json").read_text())
    assert report["corpus"] == "emodb+crema-d" and report["labels"] == FOUR  # boredom etc. dropped
    assert report["recipe"]["protocol"] == "cv" and report["recipe"]["cv"] == 2
    assert report["protocol"].startswith("2-fold over speakers, stratified by corpus and sex")
    assert report["folds_run"] == report["folds_total"] == 2
    assert report["overall"]["n"] == 96
    assert sorted(report["per_corpus"]) == ["crema-d", "emodb"]
    assert report["per_corpus"]["emodb"]["n"] == 48 and report["per_corpus"]["crema-d"]["n"] == 48
    results = check_fold_results(out, ["fold00-of02", "fold01-of02"])
    for r, f in zip(results, report["per_fold"]):
        # stratified by corpus and sex: each test group has 2 speakers of each corpus
        corpora = sorted(s.split("/")[0] for s in r["test_speakers"])
        assert corpora == ["crema-d", "crema-d", "emodb", "emodb"]
        assert sorted(f["per_corpus"]) == ["crema-d", "emodb"] and f["n"] == 48
        assert sum(v["n"] for v in f["per_corpus"].values()) == 48
        assert f["per_corpus"] == {c: {k: v[k] for k in ("uar", "wa", "f1", "n")}
                                   for c, v in r["per_corpus"].items()}
    assert "cv (2/2 folds): UAR" in stdout
    assert any(ln.startswith("crema-d UAR") and ln.endswith("(48 clips)") for ln in lines(stdout))
    assert any(ln.startswith("emodb UAR") and ln.endswith("(48 clips)") for ln in lines(stdout))
    assert not (out / "final").exists()


def test_train_two_corpora_loco_chosen_labels(two_corpora, tmp_path):
    pytest.importorskip("tensorflow", reason="training needs the [train] extra (TensorFlow)")
    out = tmp_path / "run"
    code, stdout, err = train(two_corpora, out, "--protocol", "loco", "--labels", "sad,Angry",
                              "--cmvn", "--schedule", "cosine", "--balance", "class",
                              "--label-smoothing", "0.1", "--final-epochs", "1")
    assert code == 0, stdout + err
    report = json.loads((out / "report.json").read_text())
    assert report["labels"] == ["anger", "sadness"]
    assert np.array(report["overall"]["confusion"]).shape == (2, 2)
    assert report["overall"]["n"] == 48 and report["folds_total"] == 2
    assert report["features"]["cmvn"] is True
    recipe = json.loads((out / "settings.json").read_text())["recipe"]
    assert (recipe["protocol"], recipe["schedule"], recipe["balance"], recipe["label_smoothing"]) \
        == ("loco", "cosine", "class", 0.1)
    results = check_fold_results(out, ["fold00-crema-d", "fold01-emodb"])
    for r in results:
        held = r["fold"].split("-", 1)[1]
        assert {s.split("/")[0] for s in r["test_speakers"]} == {held}
        assert {s.split("/")[0] for s in r["val"] + r["train"]} == {"crema-d", "emodb"} - {held}
        assert set(r["corpus"]) == {held} and list(r["per_corpus"]) == [held]
        assert set(r["y_true"]) == {0, 1}
    card = json.loads((out / "final" / "card.json").read_text())
    assert card["labels"] == ["anger", "sadness"] and card["features"]["cmvn"] is True
    assert card["source"]["corpora"] == {"emodb": 24, "crema-d": 24}
    assert len(card["source"]["speakers"]) == 8
    assert (out / "final" / "model.keras").is_file()


# ---- bad input: one line, exit 2 ----

def test_cv_larger_than_speakers(two_corpora, tmp_path):
    pytest.importorskip("tensorflow", reason="the trainer needs the [train] extra (TensorFlow)")
    out = tmp_path / "run"
    assert_one_line_error(*train(two_corpora, out, "--cv", "9"),
                          "--cv 9 is more folds than speakers (8)")
    # nothing written that would refuse the corrected rerun in the same folder
    assert not (out / "settings.json").exists()


@pytest.mark.parametrize("extra,needles", [
    (("--labels", "anger,contempt"), ("label 'contempt' is in none of the corpora",)),
    (("--labels", "anger"), ("--labels needs at least two labels",)),
    (("--labels", "boredom,calm"), ("label 'boredom' is in none of the corpora",
                                    "(they have: anger, happiness, neutral, sadness)")),
    (("--cv", "3", "--protocol", "loso"), ("--cv goes with --protocol cv, not loso",)),
    (("--cv", "3", "--protocol", "loco"), ("--cv goes with --protocol cv, not loco",)),
])
def test_train_refusals(two_corpora, tmp_path, extra, needles):
    out = tmp_path / "run"
    assert_one_line_error(*train(two_corpora, out, *extra), *needles)
    assert not out.exists()


def test_labels_missing_from_a_corpus(two_corpora, tmp_path):
    # boredom and fear: this EMO-DB tree has both, the CREMA-D tree neither
    wav(tmp_path / "emodb" / "wav" / "03a01La.wav", 0.5)
    wav(tmp_path / "emodb" / "wav" / "08a01Aa.wav", 0.5)
    code, out, err = run("train", tmp_path / "emodb", two_corpora["crema"],
                         "-o", tmp_path / "run", "--labels", "boredom,fear")
    assert_one_line_error(code, out, err, "crema-d: none of its labels")


def test_corpora_sharing_fewer_than_two_labels(two_corpora, tmp_path):
    mine = tmp_path / "mine"
    wav(mine / "calm" / "spk1_a.wav", 0.5)
    wav(mine / "angry" / "spk2_b.wav", 0.5)
    code, out, err = run("train", two_corpora["emodb"], mine, "-o", tmp_path / "run")
    assert_one_line_error(code, out, err, "share fewer than two labels", "--labels")


def test_same_corpus_twice(two_corpora, tmp_path):
    crema = two_corpora["crema"]
    code, out, err = run("train", crema, crema, "-o", tmp_path / "run")
    assert_one_line_error(code, out, err, "corpus crema-d given twice")


def test_cv_below_two_is_a_usage_error(two_corpora, tmp_path):
    code, out, err = train(two_corpora, tmp_path / "run", "--cv", "1")
    assert code == 2 and "Invalid value for '--cv'" in err and "Traceback" not in out + err


def test_final_model_only(two_corpora, tmp_path):
    """--folds none: no cross-validation, the final model on every speaker of both corpora."""
    pytest.importorskip("tensorflow", reason="training needs the [train] extra (TensorFlow)")
    out = tmp_path / "run"
    code, stdout, err = train(two_corpora, out, "--folds", "none", "--schedule", "cosine")
    assert code == 0, stdout + err
    assert not (out / "folds").exists()
    card = json.loads((out / "final" / "card.json").read_text())
    assert card["source"]["corpora"] == {"emodb": 48, "crema-d": 48}
    assert card["source"]["speakers"] == all_speakers()
    assert "CREMA-D, Cao et al." in card["source"]["attribution"]["crema-d"]
    assert card["training"]["final"]["epochs"] == 1 and card["training"]["final"]["examples"] == 96


def test_per_speaker_mean_over_seeds_keeps_only_speakers_every_seed_scored():
    """experiments/tools/per_speaker.py with a name repeated: several seeds of one setting become
    each speaker's mean over them, so one setting's seeds compare with another's."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "experiments" / "tools" / "per_speaker.py"
    spec = importlib.util.spec_from_file_location("per_speaker", path)
    per_speaker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(per_speaker)
    seeds = [{"emodb/03": 40.0, "emodb/08": 30.0, "emodb/09": 10.0},
             {"emodb/03": 45.0, "emodb/08": 33.0}]
    assert per_speaker.mean_over_runs(seeds) == {"emodb/03": 42.5, "emodb/08": 31.5}


def test_channel_shift_pairs_runs_scored_in_earlier_files(tmp_path):
    """experiments/tools/channel_shift.py --earlier: runs whose fold weights are gone come from the
    files that scored them, and the last run is paired per speaker with each of the others."""
    pytest.importorskip("keras", reason="channel_shift.py imports the trainer, which needs Keras (the [train] extra)")
    import subprocess
    import sys
    script = Path(__file__).resolve().parents[1] / "experiments" / "tools" / "channel_shift.py"
    conditions = ["clean", "telephone (8 kHz, 300-3400 Hz)", "thin microphone (x[n] - 0.9 x[n-1])",
                  "muffled (one-pole low-pass, a = 0.8)"]

    def scored(path, uar_by_run):
        results = {"fold02": {c: {n: {"uar": sum(u) / 2, "per_speaker": {"a/1": u[0], "a/2": u[1]}}
                                  for n, u in uar_by_run.items()} for c in conditions}}
        path.write_text(json.dumps({"runs": {n: f"/gone/{n}" for n in uar_by_run}, "folds": ["fold02"],
                                    "conditions": conditions, "results": results}))
        return path

    old = scored(tmp_path / "old.json", {"cmvn": (50.0, 60.0), "plain": (70.0, 40.0)})
    new = scored(tmp_path / "new.json", {"speed": (55.0, 70.0)})
    out = tmp_path / "both.json"
    r = subprocess.run([sys.executable, str(script), "--folds", "fold02", "--earlier", f"{old}:cmvn,plain",
                        "--earlier", f"{new}:speed", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    both = json.loads(out.read_text())
    assert list(both["runs"]) == ["cmvn", "plain", "speed"]
    assert both["paired"]["clean"]["of"] == "speed - cmvn" and both["paired"]["clean"]["mean"] == 7.5
    against_plain = both["paired_with_each"]["plain"]["telephone (8 kHz, 300-3400 Hz)"]
    assert (against_plain["mean"], against_plain["speakers_better"]) == (7.5, 1)
    r = subprocess.run([sys.executable, str(script), "--folds", "fold03", "--earlier", f"{old}:cmvn,plain",
                        "--out", str(out)], capture_output=True, text=True)
    assert r.returncode != 0 and "scored other folds" in r.stderr


def test_channel_shift_scores_a_single_run_without_pairing(tmp_path):
    """experiments/tools/channel_shift.py with one run: scored (here taken from an earlier file), nothing
    to pair it with, so no `paired` section; with none at all it refuses."""
    pytest.importorskip("keras", reason="channel_shift.py imports the trainer, which needs Keras (the [train] extra)")
    import subprocess
    import sys
    script = Path(__file__).resolve().parents[1] / "experiments" / "tools" / "channel_shift.py"
    conditions = ["clean", "telephone (8 kHz, 300-3400 Hz)", "thin microphone (x[n] - 0.9 x[n-1])",
                  "muffled (one-pole low-pass, a = 0.8)"]
    results = {"fold02": {c: {"speed7": {"uar": 50.0, "per_speaker": {"a/1": 40.0, "a/2": 60.0}}}
                          for c in conditions}}
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"runs": {"speed7": "/gone"}, "folds": ["fold02"],
                               "conditions": conditions, "results": results}))
    out = tmp_path / "one.json"
    r = subprocess.run([sys.executable, str(script), "--folds", "fold02", "--earlier", f"{old}:speed7",
                        "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    one = json.loads(out.read_text())
    assert list(one["runs"]) == ["speed7"] and "paired" not in one
    assert one["results"]["fold02"]["clean"]["speed7"]["uar"] == 50.0
    r = subprocess.run([sys.executable, str(script), "--folds", "fold02", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "give a run" in r.stderr
