"""The line between a Ray worker running an action and the driver that records it.

One TCP connection per job, opened by the worker to an address the driver listens on. Each
message is one line of JSON. The worker sends an event (``{"hook": ..., "args": [...]}``) and
waits for the driver's answer (``{"ok": true}``, or ``{"ok": false, "kind": ..., "error": ...}``
when the driver could not record it): every event is recorded before the action goes on, as it
is in-process, so a job store that fails reaches the step that reported, and the success of a
run is acknowledged only once the driver's store holds it.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Final

from ..jobs._store import _clean, _json_default

__all__ = ["Channel", "ChannelClosed", "encode"]

#: How long the worker waits for the driver's answer to one event before giving up on it.
ANSWER_TIMEOUT_SECONDS: Final = 600.0
#: The longest line either end accepts (a job's summary travels in one): a longer one is a
#: protocol error, so a peer cannot make the other buffer without bound.
MAX_MESSAGE_BYTES: Final = 256 * 1024 * 1024


class ChannelClosed(ConnectionError):
    """The other end went away (the driver died, or the worker did)."""


def encode(message: object) -> bytes:
    """``message`` as one line of JSON; values JSON cannot hold become text (as the store does),
    key order is kept (metrics are shown in the order they were reported)."""
    try:
        text = json.dumps(message, default=_json_default, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        text = json.dumps(_clean(message, set()), default=_json_default, allow_nan=False)
    return text.encode("utf-8") + b"\n"


class Channel:
    """One connected socket, read and written a line at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._file = sock.makefile("rwb")
        try:
            host, port = sock.getpeername()[:2]
            #: Who is at the other end, for error messages.
            self.peer = f"{host}:{port}"
        except OSError:
            self.peer = "an unconnected peer"

    @classmethod
    def connect(cls, address: tuple[str, int], token: str, timeout: float = 30.0) -> Channel:
        """Connect to the driver at ``address`` and introduce this job with ``token``."""
        sock = socket.create_connection(address, timeout=timeout)
        sock.settimeout(ANSWER_TIMEOUT_SECONDS)
        channel = cls(sock)
        channel.send({"token": token})
        return channel

    def send(self, message: object) -> None:
        """Write one message."""
        try:
            self._file.write(encode(message))
            self._file.flush()
        except OSError as error:
            raise ChannelClosed(f"the connection to the other end was lost ({error})") from error

    def receive(self, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
        """Read one message of at most ``max_bytes``.

        Raises:
            ChannelClosed: the other end closed the connection, went away, did not answer within
                the socket's timeout, or broke the protocol (a line longer than ``max_bytes``, or
                one that is not a JSON object: too deeply nested, not UTF-8, ...).
        """
        try:
            line = self._file.readline(max_bytes + 1)
        except OSError as error:
            raise ChannelClosed(f"the connection to {self.peer} was lost ({error})") from error
        if not line:
            raise ChannelClosed(f"{self.peer} closed the connection")
        if len(line) > max_bytes:
            raise ChannelClosed(f"{self.peer} broke the protocol: a line longer than {max_bytes} bytes")
        try:
            message = json.loads(line)
        except (ValueError, RecursionError) as error:  # RecursionError: nesting too deep to decode
            raise ChannelClosed(f"{self.peer} broke the protocol: not a JSON message ({type(error).__name__})") from error
        if not isinstance(message, dict):
            raise ChannelClosed(f"{self.peer} broke the protocol: it sent {type(message).__name__}, not a message")
        return message

    def close(self) -> None:
        """Close the connection."""
        for close in (self._file.close, self.sock.close):
            try:
                close()
            except OSError:
                pass
