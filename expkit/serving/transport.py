"""uvicorn, set up so that slow or idle clients cannot hold the server: a connection must send its
request head within `header_timeout` seconds (uvicorn itself only times out idle keep-alive
connections), at most `max_connections` are open at once (more get 503), the open-files limit is
raised to what the system allows, so many sockets do not end in "too many open files", and replies
go out without Nagle's delay."""
from __future__ import annotations

import resource
import socket


def raise_open_files_limit() -> int:
    """The soft RLIMIT_NOFILE raised to the hard one; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    except (ValueError, OSError):
        return soft


def header_timeout_protocol(seconds: float):
    """uvicorn's h11 protocol, closing a connection that has not sent a whole request head in time."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._head_timer = self.loop.call_later(seconds, self._head_timeout)
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                # uvicorn writes a response's head and body apart: with Nagle's algorithm on, the body
                # waited for the client's delayed ACK, ~40 ms per request on a kept-alive connection.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before and self._head_timer is not None:  # a request head arrived
                self._head_timer.cancel()
                self._head_timer = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self._head_timer is None:
                self._head_timer = self.loop.call_later(seconds, self._head_timeout)

        def connection_lost(self, exc) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            super().connection_lost(exc)

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self.transport.close()

    return HeaderTimeoutProtocol


def uvicorn_config(app, header_timeout: float = 10.0, max_connections: int = 1000, keep_alive: int = 5):
    import uvicorn
    limit = raise_open_files_limit()
    return uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=keep_alive,
                          limit_concurrency=max(1, min(max_connections, limit - 64)),
                          h11_max_incomplete_event_size=16 * 1024,  # a request head over 16 KB: 400
                          http=header_timeout_protocol(header_timeout))

