"""Errors raised by the emulator: service errors (answered over HTTP) and Python API misuse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Error codes the emulator itself answers with; they are not in the Connect service model.
NOT_IMPLEMENTED = "NotImplementedByEmulator"
UNKNOWN_OPERATION = "UnknownOperationException"
SERIALIZATION = "SerializationException"

EMULATOR_ERROR_STATUS: Mapping[str, int] = {
    NOT_IMPLEMENTED: 501,
    UNKNOWN_OPERATION: 400,
    SERIALIZATION: 400,
}


class ServiceError(Exception):
    """An error the emulated service answers with: a code (the error shape name) and a message.

    The HTTP status comes from the error shape in the service model unless given here.
    `fields` adds modeled members of the error shape (for example `Reason`) to the JSON body.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields: Mapping[str, Any] = dict(fields or {})


class WorldError(ValueError):
    """The world file (or a Python API call describing world entries) is invalid."""


class EmulatorStateError(ValueError):
    """A Python API state change is impossible, e.g. connecting a contact that is already disconnected."""
