"""Live emotion classification of an audio stream (microphone or replayed recording).

    source (mic callback -> bounded queue, or a file)  ->  Pipeline: ring buffer of one
    window, voice-activity gate on the newest hop, one inference per hop, mean of the last
    N probabilities, "listening" until enough speech, "uncertain" below a threshold
    ->  view (terminal or JSON lines)

pipeline.py  Ring, Smoother, Event, Pipeline, Summary, run
(the gates, energy and WebRTC, are sernet_edge.vad's: files and live share them)
sources.py   MicrophoneSource (sounddevice, lazy), ReplaySource / file_source, device lookup
view.py      live terminal view, plain lines, JSON lines, summary text
"""

from __future__ import annotations

from sernet_edge.stream.pipeline import (DEFAULT_HOP_SECONDS, DEFAULT_MIN_SPEECH_SECONDS,
                                         DEFAULT_SMOOTH, DEFAULT_THRESHOLD, LISTENING, SILENCE,
                                         UNCERTAIN, Event, Pipeline, Ring, Smoother, Summary, run)
from sernet_edge.vad import DEFAULT_ENERGY_DB, EnergyGate, WebRtcGate, make_gate

__all__ = ["DEFAULT_HOP_SECONDS", "DEFAULT_MIN_SPEECH_SECONDS", "DEFAULT_SMOOTH",
           "DEFAULT_THRESHOLD", "DEFAULT_ENERGY_DB", "LISTENING", "SILENCE", "UNCERTAIN", "Event",
           "Pipeline", "Ring", "Smoother", "Summary", "run",
           "EnergyGate", "WebRtcGate", "make_gate"]
