"""Corpus loaders on small trees built in tmp_path: EMO-DB, IEMOCAP (official layout and
annotation format), CREMA-D, RAVDESS, TESS, folder-per-label; auto-detection; the shared
emotion vocabulary; union of corpora; refusals."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import write_crema_votes

from sernet_edge.corpora import (EMODB_EMOTIONS, EMOTIONS, LAYOUTS, detect_kind, iemocap_speaker,
                                 load_corpora, load_corpus, load_emodb, load_folder, load_iemocap,
                                 to_vocabulary, union)
from sernet_edge.errors import CorpusError, SernetError

SEVEN = sorted(EMODB_EMOTIONS.values())
FOUR = ["anger", "happiness", "neutral", "sadness"]

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
    merge = {"ang": "anger", "hap": "happiness", "exc": "happiness", "sad": "sadness",
             "neu": "neutral"}
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


# folder names that spell a known emotion take its shared name
FOLDER_ITEMS = [("anger", "spk01_take1.wav"), ("anger", "spk02_take1.wav"),
                ("happiness", "spk01_take2.flac"), ("happiness", "spk03_take1.WAV"),
                ("sadness", "spk02_take3.wav")]


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
    assert got["Ses01F_impro01_M012"] == ("anger", "Ses01M")   # speaker of the utterance
    assert got["Ses01F_impro01_F001"] == ("happiness", "Ses01F")   # excited merged into happiness
    assert got["Ses02M_impro03_F000"] == ("sadness", "Ses02F")
    for excluded in ("Ses01F_impro01_F002", "Ses01F_impro01_M013", "Ses01F_impro01_F003",
                     "Ses01F_impro01_F005"):   # fru, xxx, sur, missing wav
        assert excluded not in got
    assert corpus.counts()["label"] == Counter({"happiness": 3, "neutral": 2, "sadness": 2,
                                                "anger": 1})
    assert corpus.speakers == ["Ses01F", "Ses01M", "Ses02F", "Ses02M"]
    assert corpus.speaker_sex() == {"Ses01F": "F", "Ses01M": "M", "Ses02F": "F", "Ses02M": "M"}
    assert {it.corpus for it in corpus.items} == {"iemocap-improvised"}
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
    assert corpus.name == "mine" and corpus.labels == ["anger", "happiness", "sadness"]
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
    with pytest.raises(CorpusError, match="layout not recognised") as e:
        load_corpus(tmp_path)
    for name in ("EMO-DB", "IEMOCAP", "CREMA-D", "RAVDESS", "TESS", "folder per label"):
        assert name in str(e.value)


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


# ---- the shared vocabulary ----

@pytest.mark.parametrize("name,shared", [
    ("angry", "anger"), ("Angry", "anger"), ("ANG", "anger"), ("happy", "happiness"),
    ("joy", "happiness"), ("sad", "sadness"), (" Sad ", "sadness"), ("surprised", "surprise"),
    ("pleasant-surprise", "surprise"), ("pleasant surprised", "surprise"), ("ps", "surprise"),
    ("fearful", "fear"), ("disgusted", "disgust"), ("bored", "boredom"), ("neutral", "neutral"),
    ("calm", "calm"), ("contempt", "contempt"), ("Frustrated", "frustrated"),
])
def test_to_vocabulary(name, shared):
    assert to_vocabulary(name) == shared


def test_every_layout_maps_onto_the_vocabulary():
    from sernet_edge.corpora import crema_d, emodb, iemocap, ravdess, tess
    for table in (emodb.EMOTIONS, iemocap.LABELS, crema_d.EMOTIONS, crema_d.VOTES, ravdess.EMOTIONS,
                  tess.EMOTIONS):
        assert set(table.values()) <= set(EMOTIONS), table
    assert list(LAYOUTS) == ["iemocap", "emodb", "crema-d", "ravdess", "tess", "nemo", "urdu",
                             "turev-db", "folder"]


def test_folder_labels_outside_the_vocabulary_stay(tmp_path):
    for name in ("Angry/a.wav", "calm/b.wav", "Pleasant_Surprise/c.wav", "contempt/d.wav"):
        tiny_wav(tmp_path / "mine" / name)
    corpus = load_corpus(tmp_path / "mine")
    assert corpus.labels == ["anger", "calm", "contempt", "surprise"]
    assert sorted((it.path.name, it.label) for it in corpus.items) == [
        ("a.wav", "anger"), ("b.wav", "calm"), ("c.wav", "surprise"), ("d.wav", "contempt")]


# ---- CREMA-D: 1001_DFA_ANG_XX.wav, actor_sentence_emotion_level ----

SIX = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
# (subfolder, name) -> (label, actor, sex); sexes from the corpus's VideoDemographics.csv
CREMA_FILES = {
    ("CremaTrain", "1001_DFA_ANG_XX.wav"): ("anger", "1001", "M"),
    ("CremaTrain", "1001_IEO_HAP_HI.wav"): ("happiness", "1001", "M"),
    ("CremaTrain", "1002_DFA_NEU_XX.wav"): ("neutral", "1002", "F"),
    ("CremaTrain", "1002_ITS_SAD_LO.wav"): ("sadness", "1002", "F"),
    ("CremaTest", "1002_TIE_FEA_MD.wav"): ("fear", "1002", "F"),
    ("CremaTest", "1001_MTI_DIS_XX.wav"): ("disgust", "1001", "M"),
}
# the crowd's voice-only votes: "N:S" is a tie; 1001_MTI_DIS_XX has no row
CREMA_VOTES = {"1001_DFA_ANG_XX": "A", "1001_IEO_HAP_HI": "N", "1002_DFA_NEU_XX": "N:S",
               "1002_ITS_SAD_LO": "S", "1002_TIE_FEA_MD": "A:F"}


def build_crema(root: Path) -> Path:
    for (sub, name) in CREMA_FILES:
        tiny_wav(root / sub / name)
    tiny_wav(root / "CremaTest" / "1001_DFA_ANG_XX.wav")      # the same clip in two splits
    tiny_wav(root / "CremaTest" / "1001_DFA_XXX_XX.wav")      # no such emotion: ignored
    tiny_wav(root / "CremaTrain" / ".1002_DFA_ANG_XX.wav")    # hidden: ignored
    (root / "CremaTrain" / "1002_DFA_ANG_XX.txt").write_text("not audio")
    return root


def write_votes(path: Path, votes: dict = CREMA_VOTES) -> Path:
    return write_crema_votes(path, votes)


def crema_rows(corpus) -> list[tuple[str, str, str, str]]:
    return sorted((it.path.name, it.label, it.speaker, it.sex) for it in corpus.items)


def test_crema_d_intended_labels(tmp_path):
    root = build_crema(tmp_path / "crema")
    assert detect_kind(root) == "crema-d"
    for corpus in (load_corpus(root), load_corpus(root, "crema-d")):
        assert corpus.name == "crema-d" and corpus.labels == SIX
        assert crema_rows(corpus) == sorted((name, *v) for (_, name), v in CREMA_FILES.items())
        assert len(corpus.items) == 6   # the clip in both splits counted once
        assert corpus.speakers == ["1001", "1002"]
        assert corpus.speaker_sex() == {"1001": "M", "1002": "F"}
        assert {it.corpus for it in corpus.items} == {"crema-d"}
        assert set(corpus.labels) <= set(EMOTIONS)


def test_crema_d_bundled_sexes():
    from sernet_edge.corpora.crema_d import actor_sex
    sex = actor_sex()
    assert len(sex) == 91 and sex["1001"] == "M" and sex["1002"] == "F" and sex["1091"] in "FM"
    assert set(sex.values()) == {"F", "M"}


@pytest.mark.parametrize("source,expected", [
    # agreed: the vote includes the intended emotion (ties count); no row: dropped
    ("agreed", [("1001_DFA_ANG_XX.wav", "anger"), ("1002_DFA_NEU_XX.wav", "neutral"),
                ("1002_ITS_SAD_LO.wav", "sadness"), ("1002_TIE_FEA_MD.wav", "fear")]),
    # voice: the vote is the label; ties and clips without a row dropped
    ("voice", [("1001_DFA_ANG_XX.wav", "anger"), ("1001_IEO_HAP_HI.wav", "neutral"),
               ("1002_ITS_SAD_LO.wav", "sadness")]),
])
def test_crema_d_vote_labels(tmp_path, source, expected):
    root = build_crema(tmp_path / "crema")
    write_votes(root / "summaryTable.csv")
    corpus = load_corpus(root, label_source=source)
    assert corpus.name == f"crema-d-{source}" and corpus.labels == SIX
    assert sorted((it.path.name, it.label) for it in corpus.items) == expected
    assert {it.corpus for it in corpus.items} == {f"crema-d-{source}"}
    # the votes file beside the corpus folder, or named explicitly, reads the same
    (root / "summaryTable.csv").rename(tmp_path / "summaryTable.csv")
    assert crema_rows(load_corpus(root, label_source=source)) == crema_rows(corpus)
    (tmp_path / "meta").mkdir()
    elsewhere = (tmp_path / "summaryTable.csv").rename(tmp_path / "meta" / "votes.csv")
    assert crema_rows(load_corpus(root, label_source=source, votes=elsewhere)) == crema_rows(corpus)


def test_crema_d_vote_refusals(tmp_path):
    root = build_crema(tmp_path / "crema")
    with pytest.raises(CorpusError, match="summaryTable.csv"):
        load_corpus(root, label_source="agreed")
    with pytest.raises(CorpusError, match="summaryTable.csv"):
        load_corpus(root, label_source="voice", votes=tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("name,vote\n1001_DFA_ANG_XX,A\n")
    with pytest.raises(CorpusError, match="not a CREMA-D summaryTable.csv"):
        load_corpus(root, label_source="voice", votes=tmp_path / "bad.csv")
    with pytest.raises(CorpusError, match="unknown CREMA-D label source 'crowd'"):
        load_corpus(root, label_source="crowd")
    # the intended labels need no votes file
    assert len(load_corpus(root, label_source="intended").items) == 6


# ---- RAVDESS: modality-channel-emotion-intensity-statement-repetition-actor ----

RAVDESS_FILES = {
    "Actor_01/03-01-05-01-01-01-01.wav": ("anger", "01", "M"),
    "Actor_01/03-01-02-02-01-02-01.wav": ("calm", "01", "M"),
    "Actor_01/03-01-01-01-02-01-01.wav": ("neutral", "01", "M"),
    "Actor_02/03-01-03-01-02-01-02.wav": ("happiness", "02", "F"),
    "Actor_02/03-01-08-02-02-02-02.wav": ("surprise", "02", "F"),
    "Actor_13/03-01-04-02-01-01-13.wav": ("sadness", "13", "M"),
}


def build_ravdess(root: Path) -> Path:
    for name in RAVDESS_FILES:
        tiny_wav(root / name)
    tiny_wav(root / "Actor_01" / "03-02-05-01-01-01-01.wav")   # song (channel 02): not speech
    tiny_wav(root / "Actor_02" / "03-02-04-01-01-01-02.wav")
    tiny_wav(root / "Actor_02" / "03-01-09-01-01-01-02.wav")   # no emotion 09: ignored
    return root


def test_ravdess(tmp_path):
    root = build_ravdess(tmp_path / "ravdess")
    assert detect_kind(root) == "ravdess"   # not a folder-per-label corpus of Actor_xx labels
    corpus = load_corpus(root)
    assert corpus.name == "ravdess"
    assert corpus.labels == sorted(["anger", "calm", "disgust", "fear", "happiness", "neutral",
                                    "sadness", "surprise"])
    got = sorted((f"{it.path.parent.name}/{it.path.name}", it.label, it.speaker, it.sex)
                 for it in corpus.items)
    assert got == sorted((name, *v) for name, v in RAVDESS_FILES.items())
    assert corpus.speakers == ["01", "02", "13"]
    assert corpus.speaker_sex() == {"01": "M", "02": "F", "13": "M"}   # odd actors are male


# ---- TESS: <OAF|YAF>_<word>_<emotion>.wav in a folder per speaker and emotion ----

TESS_FILES = {
    "OAF_angry/OAF_back_angry.wav": ("anger", "OAF"),
    "OAF_neutral/OAF_bar_neutral.wav": ("neutral", "OAF"),
    "OAF_Fear/OAF_beg_Fear.wav": ("fear", "OAF"),
    "YAF_pleasant_surprised/YAF_back_ps.wav": ("surprise", "YAF"),
    "YAF_sad/YAF_base_sad.wav": ("sadness", "YAF"),
    "YAF_happy/YAF_bath_happy.wav": ("happiness", "YAF"),
    "YAF_disgust/YAF_bean_disgust.wav": ("disgust", "YAF"),
}


def test_tess(tmp_path):
    root = tmp_path / "tess"
    for name in TESS_FILES:
        tiny_wav(root / name)
    tiny_wav(root / "YAF_sad" / "readme.wav")   # not a TESS name: ignored
    assert detect_kind(root) == "tess"
    corpus = load_corpus(root)
    assert corpus.name == "tess"
    assert corpus.labels == ["anger", "disgust", "fear", "happiness", "neutral", "sadness",
                             "surprise"]
    got = sorted((f"{it.path.parent.name}/{it.path.name}", it.label, it.speaker)
                 for it in corpus.items)
    assert got == sorted((name, *v) for name, v in TESS_FILES.items())
    assert corpus.speakers == ["OAF", "YAF"]
    assert corpus.speaker_sex() == {"OAF": "F", "YAF": "F"}


# ---- detection ----

def test_unrecognised_layout_names_the_layouts(tmp_path):
    for name in ("take1.wav", "take2.wav", "1001_DFA_ANG_XX.wav"):   # one CREMA-D name of three
        tiny_wav(tmp_path / "odd" / name)
    with pytest.raises(CorpusError, match="layout not recognised") as e:
        detect_kind(tmp_path / "odd")
    for name in ("EMO-DB", "IEMOCAP", "CREMA-D", "RAVDESS", "TESS", "a folder per label"):
        assert name in str(e.value)
    with pytest.raises(CorpusError, match="layout not recognised"):
        load_corpus(tmp_path / "odd")


@pytest.mark.parametrize("build,kind", [
    (lambda r: build_emodb(r, subfolder=True), "emodb"), (build_iemocap, "iemocap"),
    (build_crema, "crema-d"), (build_ravdess, "ravdess"), (build_folder, "folder"),
])
def test_each_layout_is_detected_and_loads_as_itself_only(tmp_path, build, kind):
    root = build(tmp_path / "corpus")
    assert detect_kind(root) == kind
    assert load_corpus(root, kind).items
    if kind == "folder":
        return   # every other layout is a folder of folders too (see test_wrong_kind)
    for other in ("emodb", "iemocap", "crema-d", "ravdess", "tess"):
        if other != kind:
            with pytest.raises(CorpusError, match=f"no labelled audio files found for a {other}"):
                load_corpus(root, other)


# ---- union of corpora ----

def test_union_defaults_to_shared_labels(tmp_path):
    emodb = load_corpus(build_emodb(tmp_path / "emodb", subfolder=True))
    crema = load_corpus(build_crema(tmp_path / "crema"))
    both = union([emodb, crema])
    assert both.name == "emodb+crema-d" and both.parts == ["emodb", "crema-d"]
    assert both.labels == SIX                  # boredom is EMO-DB's only: left out
    assert len(both.items) == 8 + 6
    assert both.corpora == ["crema-d", "emodb"]
    assert both.speakers == ["crema-d/1001", "crema-d/1002", "emodb/03", "emodb/08", "emodb/09",
                             "emodb/11", "emodb/13", "emodb/16"]
    assert both.speaker_corpus()["emodb/03"] == "emodb"
    assert both.speaker_sex()["crema-d/1002"] == "F" and both.speaker_sex()["emodb/03"] == "M"
    assert both.counts()["corpus"] == Counter({"emodb": 8, "crema-d": 6})
    assert "boredom" not in both.counts()["label"]
    # the union's items are the corpora's items, relabelled by speaker only
    assert sorted(str(it.path) for it in both.items) == sorted(
        str(it.path) for it in emodb.items + crema.items if it.label != "boredom")


def test_union_keeps_same_speaker_names_apart(tmp_path):
    ravdess = load_corpus(build_ravdess(tmp_path / "ravdess"))
    folder = load_folder(build_folder(tmp_path / "mine"), r"spk(\d\d)")   # speakers 01, 02, 03
    both = union([ravdess, folder])
    assert "ravdess/01" in both.speakers and "mine/01" in both.speakers
    assert both.labels == ["anger", "happiness", "sadness"]


def test_union_with_chosen_labels(tmp_path):
    emodb = load_corpus(build_emodb(tmp_path / "emodb", subfolder=True))
    crema = load_corpus(build_crema(tmp_path / "crema"))
    two = union([emodb, crema], labels=["angry", "Sad"])   # spellings map onto the vocabulary
    assert two.labels == ["anger", "sadness"]
    assert Counter(it.label for it in two.items) == Counter({"anger": 2, "sadness": 3})
    assert Counter(it.corpus for it in two.items) == Counter({"emodb": 3, "crema-d": 2})
    # a label only one corpus has is allowed as long as each corpus has one of the labels
    some = union([emodb, crema], labels=["boredom", "anger"])
    assert some.labels == ["anger", "boredom"]
    assert Counter((it.corpus, it.label) for it in some.items) == Counter(
        {("emodb", "anger"): 1, ("emodb", "boredom"): 1, ("crema-d", "anger"): 1})
    # one corpus: returned as it is, restricted to the labels, speakers not prefixed
    alone = union([emodb], labels=["happiness", "neutral"])
    assert alone.name == "emodb" and alone.labels == ["happiness", "neutral"]
    assert len(alone.items) == 3 and alone.speakers == ["03", "09"]
    assert union([emodb]).labels == SEVEN


def test_union_refusals(tmp_path):
    emodb = load_corpus(build_emodb(tmp_path / "emodb", subfolder=True))
    crema = load_corpus(build_crema(tmp_path / "crema"))
    folder = load_corpus(build_folder(tmp_path / "mine"))      # anger, happiness, sadness
    with pytest.raises(CorpusError, match="label 'contempt' is in none of the corpora"):
        union([emodb, crema], labels=["anger", "contempt"])
    with pytest.raises(CorpusError, match="--labels needs at least two labels"):
        union([emodb, crema], labels=["anger", "angry"])
    with pytest.raises(CorpusError, match="mine: none of its labels"):
        union([emodb, folder], labels=["boredom", "fear"])
    calm = tmp_path / "calm"
    tiny_wav(calm / "calm" / "a.wav")
    tiny_wav(calm / "angry" / "b.wav")
    with pytest.raises(CorpusError, match="share fewer than two labels"):
        union([emodb, load_corpus(calm)])


def test_load_corpora_refuses_the_same_corpus_twice(tmp_path):
    a = build_emodb(tmp_path / "a", subfolder=False)
    b = build_emodb(tmp_path / "b", subfolder=True)
    with pytest.raises(CorpusError, match="corpus emodb given twice"):
        load_corpora([a, a])
    with pytest.raises(CorpusError, match="corpus emodb given twice"):
        load_corpora([a, b])    # two copies of one corpus would share speakers
    crema = build_crema(tmp_path / "crema")
    got = load_corpora([a, crema])
    assert [c.name for c in got] == ["emodb", "crema-d"]
