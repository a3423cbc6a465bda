"""The one exception the tool reports to users: a one-line message, exit status 2."""


class AuditError(Exception):
    """A problem with the user's input or arguments; ``str(e)`` is the whole one-line message."""
