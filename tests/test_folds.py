"""Speaker-disjoint folds without TensorFlow: leave-one-speaker-out, K-fold stratified by
corpus and sex, leave-one-corpus-out, and `make_folds` on (unions of) corpora."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sernet_edge.corpora import Corpus, Item, union
from sernet_edge.errors import CorpusError
from sernet_edge.train.folds import (cv_folds, default_val_speakers, loco_folds, loso_folds,
                                     make_folds)

# 40 speakers in 2 corpora x 2 sexes, strata of unequal sizes: a/F 13, a/M 7, b/F 9, b/M 11
STRATA_SIZES = {("a", "F"): 13, ("a", "M"): 7, ("b", "F"): 9, ("b", "M"): 11}
STRATA = {f"{c}/{sex}{i:02d}": (c, sex) for (c, sex), n in STRATA_SIZES.items() for i in range(n)}
SPEAKERS = sorted(STRATA)


def check_disjoint(folds, speakers):
    """Every speaker in exactly one test group; no fold shares a speaker between its parts,
    and every fold uses every speaker."""
    tests = [s for f in folds for s in f.test]
    assert sorted(tests) == sorted(speakers) and len(set(tests)) == len(tests)
    for f in folds:
        test, val, train = set(f.test), set(f.val), set(f.train)
        assert not test & val and not test & train and not val & train, f.name
        assert test | val | train == set(speakers), f.name
        assert len(f.test) == len(test) and len(f.val) == len(val) and len(f.train) == len(train)
        assert f.val and f.train


# ---- K-fold ----

@pytest.mark.parametrize("k", [2, 3, 5, 7, 10])
def test_cv_folds_are_disjoint_and_stratified(k):
    folds = cv_folds(SPEAKERS, k, STRATA)
    assert len(folds) == k and [f.index for f in folds] == list(range(k))
    check_disjoint(folds, SPEAKERS)
    sizes = [len(f.test) for f in folds]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 40
    for stratum in STRATA_SIZES:
        per_group = [sum(STRATA[s] == stratum for s in f.test) for f in folds]
        assert max(per_group) - min(per_group) <= 1, (stratum, per_group)
        assert sum(per_group) == STRATA_SIZES[stratum]
    for f in folds:
        assert len(f.val) == default_val_speakers(40 - len(f.test))
        assert f.name == f"fold{f.index:02d}-of{k:02d}"


def test_cv_validation_speakers_are_a_stratified_sample():
    # 5 folds: 32 training-side speakers, 3 of them validate; with 4 strata no stratum gives
    # more than one validation speaker in most folds and each fold's val spans >= 2 strata
    for f in cv_folds(SPEAKERS, 5, STRATA):
        assert len(f.val) == 3
        assert len({STRATA[s] for s in f.val}) >= 2, f.val
    folds = cv_folds(SPEAKERS, 4, STRATA, val_speakers=8)
    for f in folds:
        assert len(f.val) == 8
        # a proportional sample of 30 training-side speakers: every stratum represented
        assert {STRATA[s] for s in f.val} == set(STRATA_SIZES), f.val


def test_cv_folds_are_deterministic():
    assert cv_folds(SPEAKERS, 5, STRATA) == cv_folds(list(reversed(SPEAKERS)), 5, dict(STRATA))
    assert cv_folds(SPEAKERS, 5, STRATA, seed=3) == cv_folds(SPEAKERS, 5, STRATA, seed=3)
    assert cv_folds(SPEAKERS, 5, STRATA, seed=3) != cv_folds(SPEAKERS, 5, STRATA, seed=4)


def test_cv_folds_without_strata():
    speakers = [f"s{i}" for i in range(11)]
    folds = cv_folds(speakers, 3)
    check_disjoint(folds, speakers)
    assert sorted(len(f.test) for f in folds) == [3, 4, 4]
    # strata for some speakers only: the others form a stratum of their own
    partial = {s: ("x", "F") for s in speakers[:5]}
    folds = cv_folds(speakers, 3, partial)
    check_disjoint(folds, speakers)
    assert all(1 <= sum(s in partial for s in f.test) <= 2 for f in folds)


def test_cv_folds_refusals():
    with pytest.raises(CorpusError, match="--cv 41 is more folds than speakers \\(40\\)"):
        cv_folds(SPEAKERS, 41, STRATA)
    with pytest.raises(CorpusError, match="--cv needs at least 2 folds, got 1"):
        cv_folds(SPEAKERS, 1, STRATA)
    with pytest.raises(CorpusError, match="at least 2 folds"):
        cv_folds(SPEAKERS, 0)
    # 3 speakers in 2 folds: a fold keeps 1 training-side speaker, too few for 2 validation
    with pytest.raises(CorpusError, match="too few"):
        cv_folds(["a", "b", "c"], 2)
    # k == speakers is allowed (leave one out, several validation speakers)
    assert len(cv_folds([f"s{i}" for i in range(6)], 6)) == 6


# ---- leave one corpus out ----

def test_loco_folds():
    corpus_of = {s: c for s, (c, _) in STRATA.items()} | {f"c/X{i}": "c" for i in range(4)}
    folds = loco_folds(corpus_of, STRATA)
    assert [f.name for f in folds] == ["fold00-a", "fold01-b", "fold02-c"]
    check_disjoint(folds, sorted(corpus_of))
    for f in folds:
        held = f.name.split("-", 1)[1]
        assert {corpus_of[s] for s in f.test} == {held}
        assert sorted(f.test) == sorted(s for s, c in corpus_of.items() if c == held)
        assert held not in {corpus_of[s] for s in f.val + f.train}
        assert len(f.val) == default_val_speakers(len(corpus_of) - len(f.test))
    assert loco_folds(corpus_of, STRATA) == folds


def test_loco_needs_two_corpora():
    with pytest.raises(CorpusError, match="at least two corpora"):
        loco_folds({"a/1": "a", "a/2": "a", "a/3": "a"})
    with pytest.raises(CorpusError, match="too few"):
        loco_folds({"a/1": "a", "b/1": "b", "b/2": "b"})   # without b only one speaker remains


# ---- leave one speaker out ----

def test_loso_unchanged():
    speakers = ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    folds = loso_folds(speakers)
    assert [f.name for f in folds][:4] == ["fold00-03", "fold01-08", "fold02-09", "fold03-10"]
    assert [(f.test, f.val) for f in folds[:2]] == [(("03",), ("08",)), (("08",), ("09",))]
    assert folds[-1].val == ("03",)   # cyclic
    check_disjoint(folds, speakers)
    # union speakers "corpus/speaker" name the fold with a dash
    assert loso_folds(["emodb/03", "emodb/08", "tess/OAF"])[2].name == "fold02-tess-OAF"


# ---- make_folds on corpora ----

def corpus_of(speakers: dict[str, tuple[str, str]], name="x") -> Corpus:
    """A corpus with two items per speaker: speaker -> (corpus, sex)."""
    items = [Item(Path(f"/nowhere/{spk}_{i}.wav"), ("anger", "sadness")[i], spk, c, sex)
             for spk, (c, sex) in speakers.items() for i in range(2)]
    return Corpus(name, Path("/nowhere"), ["anger", "sadness"], items)


def test_make_folds_per_protocol():
    corpus = corpus_of(STRATA)
    assert make_folds(corpus, "cv", 5) == cv_folds(SPEAKERS, 5, STRATA)
    loso = make_folds(corpus, "loso")
    assert len(loso) == 40 and all(len(f.val) == 1 for f in loso)
    assert [len(f.val) for f in make_folds(corpus, "loso", val_speakers=2)] == [2] * 40
    loco = make_folds(corpus, "loco")
    assert [f.name for f in loco] == ["fold00-a", "fold01-b"]
    assert [len(f.val) for f in make_folds(corpus, "cv", 4, val_speakers=5)] == [5] * 4


def test_make_folds_on_a_union_stratifies_by_corpus_and_sex():
    one = corpus_of({f"{i:02d}": ("one", "FM"[i % 2]) for i in range(6)}, "one")
    two = corpus_of({f"{i:02d}": ("two", "FM"[i % 2]) for i in range(6)}, "two")
    both = union([one, two])
    folds = make_folds(both, "cv", 3)
    check_disjoint(folds, both.speakers)
    for f in folds:
        assert Counter((both.speaker_corpus()[s], both.speaker_sex()[s]) for s in f.test) == \
            Counter({("one", "F"): 1, ("one", "M"): 1, ("two", "F"): 1, ("two", "M"): 1})


def test_make_folds_refusals():
    with pytest.raises(CorpusError, match="1 speaker"):
        make_folds(corpus_of({"solo": ("x", "F")}), "cv", 2)
    unknown = corpus_of({"unknown": ("x", "")})
    for protocol in ("loso", "cv", "loco"):
        with pytest.raises(CorpusError, match="--speaker-pattern"):
            make_folds(unknown, protocol)
    with pytest.raises(CorpusError, match="unknown protocol 'kfold'"):
        make_folds(corpus_of(STRATA), "kfold")
    with pytest.raises(CorpusError, match="at least two corpora"):
        make_folds(corpus_of({"a": ("x", "F"), "b": ("x", "M"), "c": ("x", "F")}), "loco")
