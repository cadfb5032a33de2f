"""One exception type for every problem a user can fix; its message is the one line they see."""


class PirError(Exception):
    """A problem the user can fix. The message names the problem and the fix, in one line."""


class ConfigError(PirError):
    """A setting is missing or has a value pir cannot use."""


class DatabaseLockedError(PirError):
    """Another process held the DuckDB file for longer than the configured wait."""


class InputError(PirError):
    """A file or form the user gave pir is malformed; nothing from it was written."""
