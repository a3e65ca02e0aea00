"""`sernet-edge data info`: what is in a corpus folder."""

from __future__ import annotations

import click

from sernet_edge.cli.options import corpus_options


@click.group()
def data():
    """Inspect corpora."""


@data.command()
@click.argument("path", type=click.Path(path_type=str))
@corpus_options
@click.option("--durations/--no-durations", default=True, help="Read each header for durations.")
def info(path, durations, **corpus_opts):
    """Counts per class and speaker, and durations, of the corpus at PATH."""
    from sernet_edge.audio import audio_info
    from sernet_edge.cli.options import corpus_kwargs
    from sernet_edge.corpora import load_corpus
    from sernet_edge.errors import AudioError

    corpus = load_corpus(path, **corpus_kwargs(corpus_opts))
    counts = corpus.counts()
    click.echo(f"corpus   {corpus.name} at {corpus.root}")
    sexes = corpus.speaker_sex()
    by_sex = "".join(f"   {sex} {sum(1 for v in sexes.values() if v == sex)}" for sex in ("F", "M")
                     if sex in sexes.values())
    click.echo(f"files    {len(corpus.items)}   classes {len(corpus.labels)}   "
               f"speakers {len(corpus.speakers)}{by_sex}")
    click.echo("\nper class")
    for label in corpus.labels:
        click.echo(f"  {label:<12} {counts['label'][label]:>6}")
    click.echo("\nper speaker")
    for spk in corpus.speakers:
        click.echo(f"  {spk:<12} {counts['speaker'][spk]:>6}")
    if durations:
        secs, bad = [], []
        for it in corpus.items:
            try:
                frames, rate, _ = audio_info(it.path)
                secs.append(frames / rate)
            except AudioError as e:
                bad.append(str(e))
        if secs:
            import numpy as np
            s = np.array(secs)
            click.echo(f"\ndurations  total {s.sum() / 60:.1f} min   min {s.min():.2f} s   "
                       f"median {np.median(s):.2f} s   max {s.max():.2f} s")
        for msg in bad:
            click.echo(f"unreadable: {msg}", err=True)
