"""`sernet-edge export-c`: a model and its own MFCC front end as C sources for a firmware build."""

from __future__ import annotations

import click


@click.command("export-c")
@click.argument("model", metavar="MODEL")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(path_type=str),
              help="Folder for the C files (created if missing; existing files are replaced).")
@click.option("--app", is_flag=True,
              help="Also write the streaming app: a ring filled by your microphone driver, the "
                   "speech gate, the front end and Invoke() every hop, listen's smoothing and "
                   "'uncertain' rule (sernet_app.c/.h, sernet_gate.c/.h, sernet_app_tflm.cc/.h, "
                   "app_main.c).")
@click.option("--hop", type=float, default=None, help="With --app: seconds between answers (listen's default).")
@click.option("--smooth", type=int, default=None, help="With --app: windows averaged (listen's default).")
@click.option("--threshold", type=float, default=None, help="With --app: below it 'uncertain' (listen's default).")
@click.option("--min-speech", type=float, default=None, help="With --app: seconds of speech before the first answer (listen's default).")
@click.option("--energy-db", type=float, default=None, help="With --app: the gate's energy floor, dBFS (listen's default).")
def export_c(model, out_dir, app, hop, smooth, threshold, min_speech, energy_db):
    """Write MODEL (a full-int8 .tflite with its card, or a bundled name: multi-micro) as C:
    the model array (C11, for `alignas`; also C++), the card's facts (sernet_card.h), the MFCC
    front end generated from the card's feature settings (sernet_frontend.c/.h: C99, float32,
    no heap) and an example main.c. See docs/microcontrollers.md."""
    from sernet_edge.card import read_card
    from sernet_edge.export_c import app_settings
    from sernet_edge.export_c import export_c as write
    from sernet_edge.runtime import resolve_model

    card = read_card(resolve_model(model))
    if (card.get("conversion") or {}).get("int8_pools") == "depthwise":
        arena = (card.get("micro") or {}).get("arena_bytes")
        click.echo(f"note: this file writes average pools as depthwise convolutions for XNNPACK "
                   f"(arena {arena:,} B); multi-micro or `convert --c-array` keep the pools and "
                   "the smaller arena", err=True)
    given = dict(hop=hop, smooth=smooth, threshold=threshold, min_speech=min_speech, energy_db=energy_db)
    if not app and any(v is not None for v in given.values()):
        raise click.UsageError("--hop, --smooth, --threshold, --min-speech and --energy-db go with --app")
    for path in write(model, out_dir, app_settings(**given) if app else None):
        click.echo(str(path))
