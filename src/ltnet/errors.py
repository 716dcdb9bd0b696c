"""The one error type a user sees: a clear message, exit code 2, no traceback."""


class LtnetError(Exception):
    """Bad input or an unusable file. The message names the file and the problem."""
