"""`sernet-edge export-c`: a model and its own MFCC front end as C sources for a firmware build."""

from __future__ import annotations

import click


@click.command("export-c")
@click.argument("model", metavar="MODEL")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(path_type=str),
              help="Folder for the C files (created if missing; existing files are replaced).")
def export_c(model, out_dir):
    """Write MODEL (a full-int8 .tflite with its card, or a bundled name: multi-micro) as C:
    the model array (C11, for `alignas`; also C++), the card's facts (sernet_card.h), the MFCC
    front end generated from the card's feature settings (sernet_frontend.c/.h: C99, float32,
    no heap) and an example main.c. See docs/microcontrollers.md."""
    from sernet_edge.card import read_card
    from sernet_edge.export_c import export_c as write
    from sernet_edge.runtime import resolve_model

    card = read_card(resolve_model(model))
    if (card.get("conversion") or {}).get("int8_pools") == "depthwise":
        arena = (card.get("micro") or {}).get("arena_bytes")
        click.echo(f"note: this file writes average pools as depthwise convolutions for XNNPACK "
                   f"(arena {arena:,} B); multi-micro or `convert --c-array` keep the pools and "
                   "the smaller arena", err=True)
    for path in write(model, out_dir):
        click.echo(str(path))
