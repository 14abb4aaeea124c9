"""The exceptions of funk."""


class FunkError(Exception):
    """An error reported by funk: the message is funkd's, in one line
    (what went wrong, where, and what to do)."""


class UsageError(FunkError, ValueError):
    """A bad argument or a conflict with the run in a checkpoint directory:
    what ``funkd`` exits with code 2 for."""


class UnknownIdError(FunkError, KeyError):
    """A user or item id that the model's data does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class FunkWarning(UserWarning):
    """Something went wrong during training that did not stop it (a
    corrupt checkpoint skipped, a metrics line not written)."""
