"""What the listener shows: a live terminal panel, plain lines, or JSON lines; and the summary."""

from __future__ import annotations

import json

from sernet_edge.stream.pipeline import LISTENING, SILENCE, UNCERTAIN, Event, Summary

BAR_WIDTH = 30
METER_MIN_DB = -60.0         # left end of the level meter
FULL, EMPTY = "█", "·"
ASCII_FULL, ASCII_EMPTY = "#", "."       # for terminals that cannot encode the blocks
UP, CLEAR, BOLD, RESET = "\x1b[{}F", "\x1b[2K", "\x1b[1m", "\x1b[0m"


def bar(fraction: float, width: int = BAR_WIDTH, full: str = FULL, empty: str = EMPTY) -> str:
    n = int(round(min(1.0, max(0.0, fraction)) * width))
    return full * n + empty * (width - n)


def meter(level_db: float, width: int = BAR_WIDTH, full: str = FULL, empty: str = EMPTY) -> str:
    return bar((level_db - METER_MIN_DB) / -METER_MIN_DB, width, full, empty)


def bar_chars(out) -> tuple[str, str]:
    try:
        (FULL + EMPTY).encode(getattr(out, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII_FULL, ASCII_EMPTY
    return FULL, EMPTY


def headline(event: Event) -> str:
    if event.gated:
        return SILENCE
    if event.label == LISTENING:
        return LISTENING
    if event.label == UNCERTAIN:
        top = max(event.probabilities, key=event.probabilities.get)
        return f"{UNCERTAIN} (best {top} {event.confidence:.2f})"
    return f"{event.label} {event.confidence:.2f}"


class JsonLinesView:
    """One JSON object per hop, flushed at once (for pipes, logs, systemd)."""

    def __init__(self, out):
        self.out = out

    def show(self, event: Event) -> None:
        self.out.write(json.dumps(event.to_dict()) + "\n")
        self.out.flush()

    def finish(self) -> None:
        pass


class PlainView:
    """One line per hop, for output that is not a terminal."""

    def __init__(self, out):
        self.out = out

    def show(self, event: Event) -> None:
        snr = f"  SNR {event.snr_db:5.1f} dB" if event.snr_db is not None else ""
        self.out.write(f"{event.timestamp:9.2f} s  {headline(event):<34} level "
                       f"{event.level_dbfs:6.1f} dBFS{snr}  overflows {event.overflows}"
                       f"{'  [noisy]' if event.noisy else ''}\n")
        self.out.flush()

    def finish(self) -> None:
        pass


class LiveView:
    """A panel redrawn in place with ANSI cursor moves: every class's bar, level, overflows."""

    def __init__(self, out, labels, source_name: str = ""):
        self.out = out
        self.labels = list(labels)
        self.source_name = source_name
        self.width = max(len(x) for x in [*self.labels, "level"])
        self._drawn = 0
        self.chars = bar_chars(out)

    def lines(self, event: Event) -> list[str]:
        probs = event.probabilities or {}
        top = event.label if event.probabilities and event.label != UNCERTAIN else None
        out = [f"{BOLD}{headline(event)}{RESET}   t {event.timestamp:.1f} s   "
               f"overflows {event.overflows}   {self.source_name}"]
        for lab in self.labels:
            p = probs.get(lab, 0.0)
            name = f"{BOLD}{lab:<{self.width}}{RESET}" if lab == top else f"{lab:<{self.width}}"
            out.append(f"  {name} {bar(p, BAR_WIDTH, *self.chars)} {p:4.2f}")
        level = meter(event.level_dbfs, BAR_WIDTH, *self.chars)
        out.append(f"  {'level':<{self.width}} {level} {event.level_dbfs:6.1f} dBFS")
        return out

    def show(self, event: Event) -> None:
        lines = self.lines(event)
        text = UP.format(self._drawn) if self._drawn else ""
        text += "".join(f"{CLEAR}{line}\n" for line in lines)
        self.out.write(text)
        self.out.flush()
        self._drawn = len(lines)

    def finish(self) -> None:
        self._drawn = 0


def make_view(out, labels, as_json: bool, tty: bool, source_name: str = ""):
    if as_json:
        return JsonLinesView(out)
    return LiveView(out, labels, source_name) if tty else PlainView(out)


def summary_text(summary: Summary) -> str:
    counts = ", ".join(f"{lab} {n}" for lab, n in summary.counts.most_common()) or "none"
    return (f"listened to {summary.duration:.1f} s of audio in {summary.wall_seconds:.1f} s "
            f"({summary.stopped})\n"
            f"hops {summary.hops}: {counts}\n"
            f"input overflows {summary.overflows}\n")
