"""Corpus loaders on small trees built in tmp_path: EMO-DB, IEMOCAP (official layout and
annotation format), folder-per-label; auto-detection; refusals."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sernet_edge.corpora import (EMODB_EMOTIONS, detect_kind, iemocap_speaker, load_corpus,
                                 load_emodb, load_folder, load_iemocap)
from sernet_edge.errors import CorpusError, SernetError

SEVEN = sorted(EMODB_EMOTIONS.values())
FOUR = ["angry", "happy", "neutral", "sad"]

# official EMO-DB names: speaker, text, emotion letter, version
EMODB_FILES = {
    "03a01Fa.wav": ("happiness", "03"), "03a01Nc.wav": ("neutral", "03"),
    "03a01Wa.wav": ("anger", "03"), "08a02Ab.wav": ("fear", "08"),
    "09b03Fd.wav": ("happiness", "09"), "11b01Eb.wav": ("disgust", "11"),
    "11b01Lb.wav": ("boredom", "11"), "13a05Tc.wav": ("sadness", "13"),
    "16b10Td.wav": ("sadness", "16"),
}


def tiny_wav(path: Path, samples: int = 160, rate: int = 16000, fmt: str = "WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(samples) / rate
    sf.write(str(path), 0.1 * np.sin(2 * np.pi * 300 * t), rate, format=fmt)
    return path


def build_emodb(root: Path, subfolder: bool) -> Path:
    folder = root / "wav" if subfolder else root
    for name in EMODB_FILES:
        tiny_wav(folder / name)
    tiny_wav(folder / "notes.wav")               # not an EMO-DB name: ignored
    tiny_wav(folder / "03a01Xa.wav")             # unknown emotion letter: ignored
    (folder / "03a01Fb.txt").write_text("a transcript, not audio")
    return root


# ---- IEMOCAP, in the IEMOCAP_full_release layout ----

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
# dialogue -> [(utterance, category, write its wav?)]
DIALOGUES = {
    ("Session1", "Ses01F_impro01"): [
        ("Ses01F_impro01_F000", "neu", True), ("Ses01F_impro01_F001", "exc", True),
        ("Ses01F_impro01_M012", "ang", True),   # the male actor, in a female-led dialogue
        ("Ses01F_impro01_F002", "fru", True), ("Ses01F_impro01_M013", "xxx", True),
        ("Ses01F_impro01_F003", "sur", True), ("Ses01F_impro01_F004", "hap", True),
        ("Ses01F_impro01_F005", "sad", False),  # annotated but its wav is missing
        ("Ses01F_impro01_M014", "sad", True),
    ],
    ("Session1", "Ses01F_script01_1"): [
        ("Ses01F_script01_1_F000", "ang", True), ("Ses01F_script01_1_M000", "neu", True),
        ("Ses01F_script01_1_M001", "exc", True),
    ],
    ("Session2", "Ses02M_impro03"): [
        ("Ses02M_impro03_M000", "neu", True), ("Ses02M_impro03_F000", "sad", True),
        ("Ses02M_impro03_M001", "hap", True),
    ],
}


def evaluation_block(start: float, utt: str, cat: str) -> str:
    return (f"[{start:.4f} - {start + 1.9456:.4f}]\t{utt}\t{cat}\t[2.5000, 2.5000, 2.5000]\n"
            "C-E2:\tNeutral;\t()\n"
            "C-E3:\tNeutral;\t()\n"
            "C-F1:\tNeutral; Frustration;\t(curious)\n"
            "A-E3:\tval 3; act 2; dom  2;\t()\n"
            "A-F1:\tval 3; act 2; dom  1;\t()\n\n")


def build_iemocap(root: Path) -> Path:
    for (session, dialog), turns in DIALOGUES.items():
        ev = root / session / "dialog" / "EmoEvaluation"
        (ev / "Categorical").mkdir(parents=True, exist_ok=True)
        (ev / "Attribute").mkdir(exist_ok=True)
        text = HEADER + "".join(evaluation_block(6.2901 + 5 * i, utt, cat)
                                for i, (utt, cat, _) in enumerate(turns))
        (ev / f"{dialog}.txt").write_text(text)
        # per-evaluator files in the subfolders must not be read, even if they look like the main one
        (ev / "Categorical" / f"{dialog}_e2_cat.txt").write_text(
            "".join(f"{utt} :Anger; ()\n" for utt, _, _ in turns)
            + evaluation_block(1.0, turns[0][0], "ang"))
        (ev / "Attribute" / f"{dialog}_e2_atr.txt").write_text(
            "".join(f"{utt} :val 3; act 2; dom  2;  ()\n" for utt, _, _ in turns))
        (ev / f"._{dialog}.txt").write_bytes(b"\x00\x05\x16\x07Mac OS X        \x00\x02")
        for utt, _, has_wav in turns:
            if has_wav:
                tiny_wav(root / session / "sentences" / "wav" / dialog / f"{utt}.wav")
    (root / "Session3" / "sentences").mkdir(parents=True)   # no dialog/EmoEvaluation: not a session
    (root / "Documentation").mkdir()
    return root


def expected_iemocap(subset: str) -> list[tuple[str, str, str]]:
    wanted = {"improvised": ("_impro",), "scripted": ("_script",), "all": ("_impro", "_script")}[subset]
    merge = {"ang": "angry", "hap": "happy", "exc": "happy", "sad": "sad", "neu": "neutral"}
    rows = []
    for (_, dialog), turns in DIALOGUES.items():
        if any(w in dialog for w in wanted):
            rows += [(utt, merge[cat], utt[:5] + utt.rsplit("_", 1)[1][0])
                     for utt, cat, has_wav in turns if has_wav and cat in merge]
    return sorted(rows)


# ---- folder per label ----

def build_folder(root: Path) -> Path:
    tiny_wav(root / "angry" / "spk01_take1.wav")
    tiny_wav(root / "angry" / "spk02_take1.wav")
    tiny_wav(root / "happy" / "spk01_take2.flac", fmt="FLAC")
    tiny_wav(root / "happy" / "session" / "spk03_take1.WAV")   # nested, upper-case extension
    tiny_wav(root / "sad" / "spk02_take3.wav")
    (root / "sad" / "readme.txt").write_text("not audio")
    (root / "surprised").mkdir()                                  # empty: no label
    tiny_wav(root / "loose_file.wav")                             # not in a label folder
    # hidden files and macOS zip debris are not recordings
    tiny_wav(root / ".cache" / "spk09_x.wav")
    (root / "happy" / "._spk01_take2.flac").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    (root / "__MACOSX" / "happy").mkdir(parents=True)
    (root / "__MACOSX" / "happy" / "._spk01_take2.flac").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    return root


FOLDER_ITEMS = [("angry", "spk01_take1.wav"), ("angry", "spk02_take1.wav"),
                ("happy", "spk01_take2.flac"), ("happy", "spk03_take1.WAV"),
                ("sad", "spk02_take3.wav")]


def summary(corpus) -> list[tuple[str, str, str]]:
    return sorted((it.path.stem, it.label, it.speaker) for it in corpus.items)


# ---- EMO-DB ----

@pytest.mark.parametrize("subfolder", [False, True])
def test_emodb_labels_and_speakers(tmp_path, subfolder):
    root = build_emodb(tmp_path / "emodb", subfolder)
    for corpus in (load_emodb(root), load_corpus(root), load_corpus(root, "emodb")):
        assert corpus.name == "emodb" and corpus.labels == SEVEN and len(corpus.labels) == 7
        got = {it.path.name: (it.label, it.speaker) for it in corpus.items}
        assert got == EMODB_FILES
        assert corpus.speakers == ["03", "08", "09", "11", "13", "16"]
        assert corpus.counts()["label"] == Counter({"happiness": 2, "sadness": 2, "neutral": 1,
                                                    "anger": 1, "fear": 1, "disgust": 1, "boredom": 1})
        assert corpus.counts()["speaker"]["03"] == 3 and corpus.label_index("neutral") == 5
    assert detect_kind(root) == "emodb"


def test_emodb_subset_by_speaker(tmp_path):
    corpus = load_emodb(build_emodb(tmp_path, subfolder=False))
    part = corpus.subset(["03", "11"])
    assert len(part.items) == 5 and part.speakers == ["03", "11"] and part.labels == SEVEN


def test_bundled_clips_as_emodb(mini_emodb):
    corpus = load_corpus(mini_emodb)
    assert corpus.name == "emodb" and len(corpus.items) == 7
    assert sorted(it.label for it in corpus.items) == SEVEN   # one clip per emotion
    assert len(corpus.speakers) == 6


# ---- IEMOCAP ----

@pytest.mark.parametrize("subset,count", [("improvised", 8), ("scripted", 3), ("all", 11)])
def test_iemocap_subsets(tmp_path, subset, count):
    root = build_iemocap(tmp_path / "IEMOCAP_full_release")
    corpus = load_corpus(root, subset=subset)
    assert corpus.name == f"iemocap-{subset}" and corpus.labels == FOUR
    rows = summary(corpus)
    assert rows == expected_iemocap(subset) and len(rows) == count
    for it in corpus.items:
        assert it.path.parent.name == it.path.stem.rsplit("_", 1)[0]


def test_iemocap_details(tmp_path):
    root = build_iemocap(tmp_path / "IEMOCAP_full_release")
    corpus = load_iemocap(root)   # improvised by default, as the paper
    got = {it.path.stem: (it.label, it.speaker) for it in corpus.items}
    assert got["Ses01F_impro01_M012"] == ("angry", "Ses01M")   # speaker of the utterance
    assert got["Ses01F_impro01_F001"] == ("happy", "Ses01F")   # excited merged into happy
    assert got["Ses02M_impro03_F000"] == ("sad", "Ses02F")
    for excluded in ("Ses01F_impro01_F002", "Ses01F_impro01_M013", "Ses01F_impro01_F003",
                     "Ses01F_impro01_F005"):   # fru, xxx, sur, missing wav
        assert excluded not in got
    assert corpus.counts()["label"] == Counter({"happy": 3, "neutral": 2, "sad": 2, "angry": 1})
    assert corpus.speakers == ["Ses01F", "Ses01M", "Ses02F", "Ses02M"]
    assert detect_kind(root) == "iemocap"


def test_iemocap_speaker():
    assert iemocap_speaker("Ses01F_impro01_M012") == "Ses01M"
    assert iemocap_speaker("Ses05M_script02_2_F014") == "Ses05F"


def test_iemocap_bad_subset(tmp_path):
    with pytest.raises(CorpusError, match="subset"):
        load_corpus(build_iemocap(tmp_path), subset="everything")


# ---- folder per label ----

def test_folder_without_speaker_pattern(tmp_path):
    root = build_folder(tmp_path / "mine")
    corpus = load_corpus(root)
    assert detect_kind(root) == "folder"
    assert corpus.name == "mine" and corpus.labels == ["angry", "happy", "sad"]
    assert sorted((it.label, it.path.name) for it in corpus.items) == FOLDER_ITEMS
    assert corpus.speakers == ["unknown"]


@pytest.mark.parametrize("pattern", [r"(?P<speaker>spk\d+)_", r"^(spk\d\d)", r"spk\d+"])
def test_folder_with_speaker_pattern(tmp_path, pattern):
    corpus = load_folder(build_folder(tmp_path / "mine"), pattern)
    got = sorted((it.path.name, it.speaker) for it in corpus.items)
    assert got == [("spk01_take1.wav", "spk01"), ("spk01_take2.flac", "spk01"),
                   ("spk02_take1.wav", "spk02"), ("spk02_take3.wav", "spk02"),
                   ("spk03_take1.WAV", "spk03")]
    assert corpus.counts()["speaker"] == Counter({"spk01": 2, "spk02": 2, "spk03": 1})


def test_folder_pattern_errors(tmp_path):
    root = build_folder(tmp_path / "mine")
    with pytest.raises(CorpusError, match="does not match --speaker-pattern"):
        load_corpus(root, speaker_pattern=r"^speaker(\d+)")
    with pytest.raises(CorpusError, match="bad --speaker-pattern"):
        load_corpus(root, speaker_pattern="(unclosed")


# ---- refusals ----

def test_missing_path(tmp_path):
    with pytest.raises(CorpusError, match="no such folder"):
        load_corpus(tmp_path / "nowhere")


def test_file_instead_of_folder(tmp_path):
    path = tiny_wav(tmp_path / "03a01Fa.wav")
    with pytest.raises(CorpusError, match="not a folder"):
        load_corpus(path)


def test_empty_folder(tmp_path):
    with pytest.raises(CorpusError, match="not an EMO-DB, IEMOCAP or folder"):
        load_corpus(tmp_path)


def test_folder_of_empty_label_folders(tmp_path):
    (tmp_path / "angry").mkdir()
    (tmp_path / "sad").mkdir()
    with pytest.raises(CorpusError, match="no labelled audio files"):
        load_corpus(tmp_path)


def test_wrong_kind(tmp_path):
    root = build_folder(tmp_path / "mine")
    with pytest.raises(CorpusError, match="no labelled audio files found for a emodb"):
        load_corpus(root, "emodb")
    with pytest.raises(CorpusError, match="no labelled audio files found for a iemocap"):
        load_corpus(root, "iemocap")
    with pytest.raises(CorpusError, match="unknown corpus type"):
        load_corpus(root, "timit")


def test_corpus_error_is_a_user_error():
    assert issubclass(CorpusError, SernetError) and CorpusError.exit_code == 2
