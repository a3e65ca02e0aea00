"""Options shared by several commands."""

import click

from sernet_edge.corpora import KINDS as CORPUS_TYPES

# every name in sernet_edge.runtime.BUNDLED (a test keeps them equal)
BUNDLED_NAMES = ("multi (default), multi-float16, multi-micro, multi-s, multi-s-float16, "
                 "multi-s-micro, multi-xs, multi-xs-float16, multi-xs-micro, emodb, emodb-float16")
MODEL_HELP = f"A .tflite model with its card, or a bundled model by name: {BUNDLED_NAMES}."
SPEECH_GATE_HELP = ("Voice-activity gate that finds the speech: energy (listen's, its floor set by "
                    "each file's level), webrtc (also WebRTC VAD: cuts quiet speech from files), "
                    "or off (classify every sample, silence included); auto = energy.")

CORPUS_PARAMS = ("corpus_type", "subset", "speaker_pattern", "label_source", "votes")


def corpus_options(f):
    f = click.option("--votes", type=click.Path(path_type=str), default=None, metavar="CSV",
                     help="CREMA-D: the crowd's summaryTable.csv (default: found in or beside "
                          "the corpus folder).")(f)
    f = click.option("--label-source", type=click.Choice(["intended", "agreed", "voice"]),
                     default="intended", show_default=True,
                     help="CREMA-D labels: the intended emotion; only clips whose voice-only "
                          "crowd vote agrees with it; or that vote itself.")(f)
    f = click.option("--speaker-pattern", default=None, metavar="REGEX",
                     help="Folder corpora: regex on the file name; group 'speaker' (or 1) is the speaker.")(f)
    f = click.option("--subset", type=click.Choice(["improvised", "scripted", "all"]),
                     default="improvised", show_default=True, help="IEMOCAP dialogues to use.")(f)
    f = click.option("--corpus-type", type=click.Choice(CORPUS_TYPES), default="auto",
                     show_default=True, help="Corpus layout; auto detects it.")(f)
    return f


def corpus_kwargs(params: dict) -> dict:
    """The keyword arguments of `corpora.load_corpus` from a command's corpus options."""
    return {"kind": params["corpus_type"], "subset": params["subset"],
            "speaker_pattern": params["speaker_pattern"], "label_source": params["label_source"],
            "votes": params["votes"]}
