"""Error types that the CLI turns into one-line messages and exit codes."""


class SernetError(Exception):
    """Something the user can fix: bad path, bad file, bad option. Exit code 2."""

    exit_code = 2


class AudioError(SernetError):
    """An audio file or array that cannot be turned into a waveform."""


class CorpusError(SernetError):
    """A corpus folder that is missing, empty or not in a known layout."""


class ModelError(SernetError):
    """A model file that is missing, damaged, or whose card does not match it."""


class OutputError(SernetError):
    """An output path that cannot be written (a missing or read-only folder, a file in the way)."""
