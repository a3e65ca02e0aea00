"""Options shared by several commands."""

import click

CORPUS_TYPES = ("auto", "emodb", "iemocap", "folder")


def corpus_options(f):
    f = click.option("--speaker-pattern", default=None, metavar="REGEX",
                     help="Folder corpora: regex on the file name; group 'speaker' (or 1) is the speaker.")(f)
    f = click.option("--subset", type=click.Choice(["improvised", "scripted", "all"]),
                     default="improvised", show_default=True, help="IEMOCAP dialogues to use.")(f)
    f = click.option("--corpus-type", type=click.Choice(CORPUS_TYPES), default="auto",
                     show_default=True, help="Corpus layout; auto detects it.")(f)
    return f
