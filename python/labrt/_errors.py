"""labrt's exceptions: one class per labrt::errc code, all under labrt.Error."""

import builtins


class Error(Exception):
    """A labrt error. `code` is the errc name ("conflict", ...), None for an
    error that is not labrt's own; `value` its number; `revision` the current
    revision a conflict saw (0 otherwise)."""

    code = None
    value = 0

    def __init__(self, message, revision=0):
        super().__init__(message)
        self.message = message
        self.revision = revision

    def __str__(self):
        return f"{self.code}: {self.message}" if self.code else self.message


# errc's order (include/labrt/errc.hpp): the values count from 1.
_CODES = [
    ("invalid_argument", "InvalidArgumentError", ()),
    ("wrong_type", "WrongTypeError", ()),
    ("key_too_long", "KeyTooLongError", ()),
    ("value_too_large", "ValueTooLargeError", ()),
    ("conflict", "ConflictError", ()),
    ("patch_failed", "PatchFailedError", ()),
    ("already_running", "AlreadyRunningError", ()),
    ("not_running", "NotRunningError", ()),
    ("not_found", "NotFoundError", ()),
    ("forbidden", "ForbiddenError", ()),
    ("spawn_failed", "SpawnFailedError", ()),
    ("system_error", "SystemCallError", ()),
    ("timeout", "TimeoutError", (builtins.TimeoutError,)),
    ("shutting_down", "ShuttingDownError", ()),
    ("storage_failed", "StorageFailedError", ()),
    ("unavailable", "UnavailableError", ()),
]

BY_VALUE = {}
for _value, (_code, _name, _bases) in enumerate(_CODES, start=1):
    _cls = type(_name, (Error,) + _bases, {"code": _code, "value": _value,
                                           "__module__": "labrt"})
    globals()[_name] = _cls
    BY_VALUE[_value] = _cls


class ForkError(ShuttingDownError):  # noqa: F821 (made above)
    """An object of the parent's runtime used in a child after fork(): make
    new objects in the child (labrt.runtime() and the compat getters do)."""

    __module__ = "labrt"


def make(value, message, revision, forked):
    """The exception for a labrt::errc value (the native module calls it)."""
    if forked:
        return ForkError(message)
    return BY_VALUE.get(value, Error)(message, revision)


__all__ = ["Error", "ForkError"] + [name for _, name, _ in _CODES]
