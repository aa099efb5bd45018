"""The one root of every error trtlens raises on purpose.

    TrtlensError
    ├── SettingsError            (trtlens.settings)  a setting failed validation
    ├── StackError               (trtlens.stack)     the embedded stack cannot start/stop
    ├── DependencyMissingError   (trtlens.errors)    an optional package is not installed
    ├── DecodeError              (trtlens.schemas)   a record or event failed to decode
    └── ...                      each package adds its own, with typed attributes

Lower-level exceptions (pydantic, kafka, elasticsearch, OSError) are wrapped at
the boundary where trtlens can say what went wrong and what to do about it.
"""

from __future__ import annotations


class TrtlensError(Exception):
    """Base class of trtlens errors. ``str(err)`` is a message meant for a person."""


class DependencyMissingError(TrtlensError):
    """An optional dependency is not importable.

    Attributes:
        package: the import name that failed (``tensorrt``, ``pycuda``, ``pynvml``).
        install_hint: what to run to get it.
    """

    def __init__(self, package: str, install_hint: str, *, cause: BaseException | None = None) -> None:
        self.package = package
        self.install_hint = install_hint
        detail = f" ({cause})" if cause else ""
        super().__init__(f"{package} is not importable{detail}; {install_hint}")
