"""The exceptions vcodec raises on purpose; anything else is a bug."""


class VcodecError(Exception):
    """A problem the user can fix (bad input, missing file, wrong option): shown as one line."""


class BitstreamError(VcodecError):
    """A byte string that is not a valid vcodec stream for this model (truncated, corrupt, foreign)."""
