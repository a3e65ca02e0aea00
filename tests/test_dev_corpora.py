"""The development corpora (evaluation only): nEMO, URDU and TurEV-DB on small trees with
their real file names, built in tmp_path; their licences, and the line `train` prints for a
non-commercial corpus. The checks on the real corpora skip unless SERNET_NEMO, SERNET_URDU,
SERNET_TUREV_DB (default /work/data/nemo, urdu, turev-db) hold them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import soundfile as sf
from click.testing import CliRunner

from conftest import bundled_clip_paths

from sernet_edge.cli import main
from sernet_edge.corpora import (EMOTIONS, EVALUATION_ONLY, LAYOUTS, attribution, detect_kind,
                                 licence, load_corpus, non_commercial)
from sernet_edge.errors import CorpusError

NEMO = Path(os.environ.get("SERNET_NEMO", "/work/data/nemo"))
URDU = Path(os.environ.get("SERNET_URDU", "/work/data/urdu"))
TUREV_DB = Path(os.environ.get("SERNET_TUREV_DB", "/work/data/turev-db"))


def wav(path: Path, clip: int = 0, rate: int = 16000) -> Path:
    """Bundled clip number `clip` (of 7, CC0 EMO-DB speech: a speech gate keeps it, as it
    would not keep a tone) at the corpus's own sample rate."""
    pytest.importorskip("scipy", reason="the fake corpora resample the bundled clips with scipy (the [dev] extra)")
    from scipy.signal import resample_poly
    x, native = sf.read(str(bundled_clip_paths()[clip % 7]), dtype="float32")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), resample_poly(x, rate, native), rate, subtype="PCM_16")
    return path


# ---- nEMO: samples/{speaker}_{emotion}_{sentence}.wav, data.tsv beside samples/ ----

NEMO_FILES = {   # name -> (label, speaker, sex)
    "EB0_anger_1.wav": ("anger", "EB0", "F"), "EB0_neutral_13.wav": ("neutral", "EB0", "F"),
    "KS0_surprised_10.wav": ("surprise", "KS0", "M"), "KS0_fear_2.wav": ("fear", "KS0", "M"),
    "WR0_happiness_64.wav": ("happiness", "WR0", "M"), "MK0_sadness_7.wav": ("sadness", "MK0", "F"),
}


def build_nemo(root: Path) -> Path:
    for i, name in enumerate(NEMO_FILES):
        wav(root / "samples" / name, i, rate=24000)
    wav(root / "samples" / "EB0_contempt_1.wav", rate=24000)   # not a nEMO emotion: ignored
    (root / "data.tsv").write_text("file_id\temotion\traw_text\tnormalized_text\tspeaker_id\t"
                                   "gender\tage\nEB0_anger_1.wav\tanger\tA.\ta\t        EB0\t"
                                   "female\t27\n")
    (root / "README.md").write_text("# nEMO\n")
    return root


def test_nemo_from_the_repository_folder_and_from_samples(tmp_path):
    root = build_nemo(tmp_path / "nEMO")
    for path in (root, root / "samples"):
        assert detect_kind(path) == "nemo"
        corpus = load_corpus(path)
        assert corpus.name == "nemo" and corpus.root == path
        assert corpus.labels == ["anger", "fear", "happiness", "neutral", "sadness", "surprise"]
        assert sorted((it.path.name, (it.label, it.speaker, it.sex)) for it in corpus.items) \
            == sorted(NEMO_FILES.items())
        assert corpus.speakers == ["EB0", "KS0", "MK0", "WR0"]
        assert {it.corpus for it in corpus.items} == {"nemo"}


# ---- URDU: <Emotion>/S{sex}{n}_F{file}_{A|H|N|S}{count}.wav ----

URDU_FILES = {   # path -> (label, speaker, sex)
    "Angry/SM1_F10_A010.wav": ("anger", "SM1", "M"), "Angry/SM4_F1_A060.wav": ("anger", "SM4", "M"),
    "Happy/SF2_F1_H013.wav": ("happiness", "SF2", "F"), "Happy/SM3_F1_H053.wav": ("happiness", "SM3", "M"),
    "Neutral/SM3_F1_N021.wav": ("neutral", "SM3", "M"), "Neutral/SF9_F2_N002.wav": ("neutral", "SF9", "F"),
    "Sad/SF10_F1_S001.wav": ("sadness", "SF10", "F"), "Sad/SM1_F3_S090.wav": ("sadness", "SM1", "M"),
}


def build_urdu(root: Path) -> Path:
    for i, name in enumerate(URDU_FILES):
        wav(root / name, i, rate=44100)
    (root / "README.md").write_text("# URDU-Dataset\n")
    return root


def test_urdu_speaker_and_sex_from_the_name_not_the_folder(tmp_path):
    root = build_urdu(tmp_path / "URDU-Dataset")
    assert detect_kind(root) == "urdu"      # not a folder-per-label corpus of Angry, Happy, ...
    corpus = load_corpus(root)
    assert corpus.name == "urdu" and corpus.labels == ["anger", "happiness", "neutral", "sadness"]
    got = {it.path.relative_to(root).as_posix(): (it.label, it.speaker, it.sex) for it in corpus.items}
    assert got == URDU_FILES
    assert corpus.speaker_sex() == {"SF10": "F", "SF2": "F", "SF9": "F", "SM1": "M", "SM3": "M",
                                    "SM4": "M"}   # SF1 and SM1 would be two people


# ---- TurEV-DB: Sound Source/<Emotion>/{speaker}_{kz|mt|hl|sk}_{word}.wav ----

TUREV_FILES = {   # path under Sound Source -> (label, speaker)
    "Angry/1157_kz_acik.wav": ("anger", "1157"), "Angry/1234_kz_cay.wav": ("anger", "1234"),
    "Calm/1234_sk_cay.wav": ("neutral", "1234"), "Calm/7895_sk_zeytin.wav": ("neutral", "7895"),
    "Happy/1358_mt_gunes.wav": ("happiness", "1358"), "Happy/6783_mt_kedi.wav": ("happiness", "6783"),
    "Sad/7895_hl_ogul1.wav": ("sadness", "7895"), "Sad/1984_hl_simit.wav": ("sadness", "1984"),
}
# the repository's high-pass-filtered copies of test clips: not recordings of their own
FILTERED_COPY = "Model Output for Test Data/testEmotions500HighPass/sound/Angry/1157_kz_acik.wav"


def build_turev(root: Path) -> Path:
    for i, name in enumerate(TUREV_FILES):
        wav(root / "Sound Source" / name, i, rate=44100)
    wav(root / FILTERED_COPY, rate=44100)
    (root / "README.md").write_text("# Turkish Emotion-Voice Database TurEV-DB\n")
    return root


def test_turev_db_calm_is_neutral_and_only_sound_source_is_read(tmp_path):
    root = build_turev(tmp_path / "TurEV-DB")
    for path in (root, root / "Sound Source"):
        assert detect_kind(path) == "turev-db"
        corpus = load_corpus(path)
        assert corpus.name == "turev-db"
        assert corpus.labels == ["anger", "happiness", "neutral", "sadness"]   # no calm
        got = {it.path.relative_to(root / "Sound Source").as_posix(): (it.label, it.speaker)
               for it in corpus.items}
        assert got == TUREV_FILES
        assert {it.sex for it in corpus.items} == {""}   # the repository does not say
    assert load_corpus(root / "Model Output for Test Data", "turev-db").items   # loads if asked


# ---- all three ----

BUILDERS = {"nemo": build_nemo, "urdu": build_urdu, "turev-db": build_turev}


def test_registered_before_the_folder_layout_and_on_the_vocabulary():
    from sernet_edge.corpora import nemo, turev_db, urdu
    assert list(LAYOUTS)[-4:] == ["nemo", "urdu", "turev-db", "folder"]
    assert EVALUATION_ONLY == ("nemo", "urdu", "turev-db")
    for module in (nemo, urdu, turev_db):
        assert set(module.EMOTIONS.values()) <= set(EMOTIONS), module.NAME


@pytest.mark.parametrize("kind", BUILDERS)
def test_each_loads_as_itself_only(tmp_path, kind):
    root = BUILDERS[kind](tmp_path / "corpus")
    for other in ("emodb", "crema-d", "ravdess", "tess", *BUILDERS):
        if other != kind:
            with pytest.raises(CorpusError, match=f"no labelled audio files found for a {other}"):
                load_corpus(root, other)


@pytest.mark.parametrize("name,licence_text,citation", [
    ("nemo", "CC BY-NC-SA 4.0", "Christop, LREC-COLING 2024"),
    ("urdu", "research use only", "arXiv:1812.10411"),
    ("turev-db", "CC BY-NC-ND 4.0", "Canpolat, Ormanoglu & Zeyrek"),
])
def test_licence_and_citation(name, licence_text, citation):
    assert licence(name) == licence_text
    assert licence_text in attribution(name) and citation in attribution(name)
    assert non_commercial([name]) == [name]


def test_non_commercial_names_only_the_restricted_corpora():
    assert non_commercial(["emodb", "crema-d-agreed", "ravdess", "tess", "nemo", "my-folder"]) \
        == ["ravdess", "tess", "nemo"]
    assert non_commercial(["iemocap-improvised"]) == []    # its agreement decides: not guessed
    assert licence("emodb") == "CC0-1.0" and licence("my-folder") is None


def test_data_info(tmp_path):
    root = build_urdu(tmp_path / "urdu")
    res = CliRunner().invoke(main, ["data", "info", str(root)])
    assert res.exit_code == 0, res.output
    assert "corpus   urdu at" in res.output
    assert "files    8   classes 4   speakers 6   F 3   M 3" in res.output
    assert "durations  total 0.3 min   min 1.58 s" in res.output   # 7 bundled clips, one twice


def test_evaluate_scores_the_shared_classes(tmp_path):
    """The bundled multi model (6 classes) on nEMO: surprise is left out, as evaluate does
    for any class the model lacks."""
    root = build_nemo(tmp_path / "nemo")
    res = CliRunner().invoke(main, ["evaluate", "multi", str(root), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "nemo: 1 clip of surprise left out: the model has no such class" in res.stderr
    report = json.loads((tmp_path / "out" / "evaluate.json").read_text())
    (c,) = report["corpora"]
    assert c["name"] == "nemo" and c["n"] == 5 and c["left_out"]["not_in_model"] == {"surprise": 1}


def test_unseen_corpora_report(tmp_path):
    """benchmarks/unseen_corpora.py on the three tiny trees: one JSON per model, a summary
    over the folder with both answers, and a one-line refusal of a corpus that is not one of
    the development corpora."""
    import subprocess
    import sys
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "unseen_corpora.py"
    trees = [str(build(tmp_path / name)) for name, build in BUILDERS.items()]
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, str(script), "-m", "multi", *trees, "--out", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["multi.json", "unseen-corpora.json",
                                                      "unseen-corpora.md"]
    report = json.loads((out / "multi.json").read_text())
    assert [c["name"] for c in report["corpora"]] == ["nemo", "urdu", "turev-db"]
    nemo = report["corpora"][0]
    assert nemo["n"] == 5 and nemo["shared_classes"]["classes"] == [
        "anger", "fear", "happiness", "neutral", "sadness"]
    assert all(c["predicted_shared"] in nemo["shared_classes"]["classes"] for c in nemo["clips"])
    assert report["machine"]["cores"] >= 1
    summary = json.loads((out / "unseen-corpora.json").read_text())
    (model,) = summary["models"]
    assert set(model["mean_uar"]) == {"all_classes", "shared_classes"}
    assert model["corpora"]["turev-db"]["chance"] == 0.25
    assert "| multi | shared classes |" in (out / "unseen-corpora.md").read_text()

    (tmp_path / "emodb" / "wav").mkdir(parents=True)
    wav(tmp_path / "emodb" / "wav" / "03a01Fa.wav")
    res = subprocess.run([sys.executable, str(script), "-m", "multi", str(tmp_path / "emodb"),
                          "--out", str(tmp_path / "out2")], capture_output=True, text=True)
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert "not a development corpus" in res.stderr and "Traceback" not in res.stderr


# ---- the licence line of `train` ----

def test_train_says_non_commercial_in_one_line(tmp_path, capsys):
    from sernet_edge.cli.train import say_licence
    from sernet_edge.corpora import Corpus, Item
    ravdess = Corpus("ravdess", tmp_path, ["anger"], [Item(tmp_path / "a.wav", "anger", "01", "ravdess")])
    say_licence(ravdess)
    assert capsys.readouterr().err == ("note: ravdess (CC BY-NC-SA 4.0) is licensed for "
                                       "non-commercial use only, and so is a model trained on it\n")
    emodb = Corpus("emodb", tmp_path, ["anger"], [Item(tmp_path / "b.wav", "anger", "03", "emodb")])
    say_licence(emodb)
    assert capsys.readouterr() == ("", "")
    tess = Corpus("tess", tmp_path, ["anger"], [Item(tmp_path / "c.wav", "anger", "OAF", "tess")])
    say_licence(Corpus("mix", tmp_path, ["anger"], emodb.items + ravdess.items + tess.items))
    assert capsys.readouterr().err == ("note: ravdess (CC BY-NC-SA 4.0), tess (CC BY-NC-ND 4.0) are "
                                       "licensed for non-commercial use only, and so is a model "
                                       "trained on them\n")


def test_train_card_records_the_licence(tmp_path):
    """End to end (TensorFlow): a final model on RAVDESS and EMO-DB names; the line on stderr
    and the card's licences."""
    pytest.importorskip("tensorflow", reason="training needs the [train] extra (TensorFlow)")
    codes = {"anger": ("05", "W"), "happiness": ("03", "F"), "neutral": ("01", "N"), "sadness": ("04", "T")}
    for i, (ravdess_code, emodb_code) in enumerate(codes.values()):
        for actor in ("01", "02"):
            for statement in ("01", "02"):
                wav(tmp_path / "ravdess" / f"03-01-{ravdess_code}-01-{statement}-01-{actor}.wav",
                    i + int(actor))
        for speaker in ("03", "08"):
            for text in ("a01", "a02"):
                wav(tmp_path / "emodb" / "wav" / f"{speaker}{text}{emodb_code}a.wav",
                    i + int(speaker))
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", str(tmp_path / "ravdess"), str(tmp_path / "emodb"),
                                    "-o", str(out), "--folds", "none", "--seconds", "1",
                                    "--epochs", "1", "--batch-size", "16",
                                    "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    notes = [line for line in res.stderr.splitlines() if line.startswith("note: ")]
    assert notes == ["note: ravdess (CC BY-NC-SA 4.0) is licensed for non-commercial use only, "
                     "and so is a model trained on it"]
    source = json.loads((out / "final" / "card.json").read_text())["source"]
    assert source["licence"] == {"ravdess": "CC BY-NC-SA 4.0", "emodb": "CC0-1.0"}
    assert source["non_commercial"] == ["ravdess"]


# ---- the real corpora, fetched from their repositories ----

def real(path: Path, env: str, probe: str) -> Path:
    if not any(path.glob(probe)):
        pytest.skip(f"not found at {path} (set {env} to a fresh extract of its repository)")
    return path


@pytest.mark.parametrize("path,env,probe,name,summary,counts", [
    (NEMO, "SERNET_NEMO", "samples/EB0_anger_1.wav", "nemo",
     "files    4481   classes 6   speakers 9   F 4   M 5",
     {"anger": 749, "fear": 736, "happiness": 749, "neutral": 809, "sadness": 769, "surprise": 669}),
    (URDU, "SERNET_URDU", "Angry/SM1_F10_A010.wav", "urdu",
     "files    400   classes 4   speakers 29   F 11   M 18",
     {"anger": 100, "happiness": 100, "neutral": 100, "sadness": 100}),
    (TUREV_DB, "SERNET_TUREV_DB", "Sound Source/Angry/1157_kz_acik.wav", "turev-db",
     "files    1735   classes 4   speakers 6\n",
     {"anger": 487, "happiness": 357, "neutral": 408, "sadness": 483}),
])
def test_real_corpus_counts(path, env, probe, name, summary, counts):
    root = real(path, env, probe)
    res = CliRunner().invoke(main, ["data", "info", "--no-durations", str(root)])
    assert res.exit_code == 0, res.output
    assert f"corpus   {name} at" in res.output and summary in res.output
    for label, n in counts.items():
        assert f"  {label:<12} {n:>6}" in res.output
