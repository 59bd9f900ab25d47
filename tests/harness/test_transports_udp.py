"""UDP message transport and endpoint over real loopback sockets (wireproof.harness.transports.udp)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import pytest

from wireproof.errors import HarnessError, TransportError, TransportTimeout
from wireproof.harness.transports import (
    MessageTransport,
    UdpAddress,
    UdpEndpoint,
    UdpTransport,
    open_message_transport,
    open_target,
    parse_url,
)


@pytest.fixture
def endpoint() -> Iterator[UdpEndpoint]:
    with UdpEndpoint.bind("127.0.0.1", 0, timeout=5.0) as ep:
        yield ep


def test_url_parses_to_udp_address() -> None:
    assert parse_url("udp://127.0.0.1:502") == UdpAddress(host="127.0.0.1", port=502)
    assert parse_url("udp://[::1]:20000") == UdpAddress(host="::1", port=20000)
    assert UdpAddress(host="::1", port=20000).url == "udp://[::1]:20000"


@pytest.mark.parametrize(("url", "message"), [
    ("udp://127.0.0.1", "udp:// needs a port (udp://HOST:PORT)"),
    ("udp://:502", "udp:// needs a host"),
    ("udp://h:0", "port 0 is not in 1..65535"),
    ("udp://h:502/x", "udp:// takes only HOST:PORT"),
    ("udp://h:abc", "bad port"),
])
def test_bad_udp_urls_are_harness_errors(url: str, message: str) -> None:
    with pytest.raises(HarnessError) as info:
        parse_url(url)
    assert message in str(info.value)
    assert not isinstance(info.value, TransportError)


def test_round_trip_keeps_every_message_boundary(endpoint: UdpEndpoint) -> None:
    messages = [b"a", b"bb", b"", b"c" * 1000, b"dd"]
    with open_message_transport(endpoint.url, timeout=5.0) as client:
        assert isinstance(client, UdpTransport)
        assert client.kind == "message" and endpoint.kind == "message"
        for m in messages:
            client.send(m)
        received = [endpoint.recv_from() for _ in messages]
        assert [m for m, _ in received] == messages  # none split, merged or lost (an empty one included)
        assert {peer for _, peer in received} == {client.local_address}
        for m in reversed(messages):
            endpoint.send_to(m, client.local_address)
        assert [client.recv() for _ in messages] == list(reversed(messages))


def test_client_is_bound_to_an_ephemeral_loopback_port(endpoint: UdpEndpoint) -> None:
    with UdpTransport.connect("127.0.0.1", endpoint.address[1]) as client:
        host, port = client.local_address
        assert host == "127.0.0.1" and port != 0
        assert client.url == endpoint.url == f"udp://127.0.0.1:{endpoint.address[1]}"


def test_connected_client_hears_only_its_peer(endpoint: UdpEndpoint) -> None:
    with UdpTransport.connect(*endpoint.address) as client, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as intruder:
        intruder.sendto(b"intruder", client.local_address)
        endpoint.send_to(b"peer", client.local_address)
        assert client.recv(timeout=5.0) == b"peer"  # the earlier intruder datagram was filtered out


def test_largest_datagram_passes_and_a_longer_one_is_emsgsize(endpoint: UdpEndpoint) -> None:
    with open_message_transport(endpoint.url) as client:
        assert client.max_message == 65507  # IPv4: 65535 - 20 (IP) - 8 (UDP)
        client.send(bytes(65507))
        assert endpoint.recv_from()[0] == bytes(65507)
        with pytest.raises(TransportError) as info:
            client.send(bytes(65508))
        assert info.value.errno == errno.EMSGSIZE
        assert isinstance(info.value, OSError)
        assert endpoint.url in str(info.value)
        with pytest.raises(TransportTimeout):
            endpoint.recv_from(timeout=0)  # nothing was sent
        with pytest.raises(TransportError) as info:
            endpoint.send_to(bytes(65508), ("127.0.0.1", 9))
        assert info.value.errno == errno.EMSGSIZE


def test_truncated_datagram_is_an_error_not_part_of_a_message() -> None:
    # A Unix datagram can exceed the 65,536-byte receive buffer, which a UDP one cannot.
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with UdpTransport(a, url="udp://unix-pair:1") as t, b:
        b.send(bytes(70000))
        with pytest.raises(TransportError) as info:
            t.recv(timeout=5.0)
        assert info.value.errno == errno.EMSGSIZE and "truncated" in str(info.value)


def test_timeouts(endpoint: UdpEndpoint) -> None:
    with open_message_transport(endpoint.url, timeout=0.05) as client:
        with pytest.raises(TransportTimeout) as info:
            client.recv()
        assert isinstance(info.value, TimeoutError)
        assert endpoint.url in str(info.value)
        with pytest.raises(TransportTimeout):
            client.recv(timeout=0)  # a poll
        with pytest.raises(HarnessError):
            client.recv(timeout=-1)
    with pytest.raises(TransportTimeout):
        endpoint.recv_from(timeout=0.01)
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(HarnessError) as err:
            open_message_transport(endpoint.url, timeout=bad)
        assert not isinstance(err.value, TransportError)


def test_closed_peer_port_is_connection_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
        gone.bind(("127.0.0.1", 0))
        port = gone.getsockname()[1]
    with open_message_transport(f"udp://127.0.0.1:{port}") as client:
        client.send(b"anyone?")  # answered by ICMP port unreachable
        with pytest.raises(TransportError) as info:
            client.recv(timeout=5.0)
    assert info.value.errno == errno.ECONNREFUSED
    assert not isinstance(info.value, TransportTimeout)
    assert f"udp://127.0.0.1:{port}" in str(info.value)


def test_close_is_idempotent_and_later_use_fails(endpoint: UdpEndpoint) -> None:
    client = open_target(endpoint.url)
    assert isinstance(client, MessageTransport)
    client.close()
    client.close()
    assert client.closed and "closed" in repr(client)
    with pytest.raises(TransportError, match="closed transport"):
        client.send(b"x")
    with pytest.raises(TransportError, match="closed transport"):
        client.recv()
    endpoint.close()
    with pytest.raises(TransportError, match="closed transport"):
        endpoint.recv_from()
    with pytest.raises(TransportError, match="closed transport"):
        endpoint.send_to(b"x", ("127.0.0.1", 9))


def test_tap_sees_each_message_once_and_whole(endpoint: UdpEndpoint) -> None:
    client_log: list[tuple[str, bytes]] = []
    server_log: list[tuple[str, bytes]] = []
    endpoint.tap = lambda d, b: server_log.append((d, b))
    with open_message_transport(endpoint.url, tap=lambda d, b: client_log.append((d, b))) as client:
        client.send(b"req-1")
        client.send(b"")
        for _ in range(2):
            message, peer = endpoint.recv_from()
            endpoint.send_to(message[::-1], peer)
        assert client.recv() == b"1-qer"
        assert client.recv() == b""
    assert client_log == [("sent", b"req-1"), ("sent", b""), ("received", b"1-qer"), ("received", b"")]
    assert server_log == [("received", b"req-1"), ("sent", b"1-qer"), ("received", b""), ("sent", b"")]


def test_bind_to_a_taken_port_is_transport_error(endpoint: UdpEndpoint) -> None:
    with pytest.raises(TransportError) as info:
        UdpEndpoint.bind("127.0.0.1", endpoint.address[1])
    assert info.value.errno == errno.EADDRINUSE
    assert endpoint.url in str(info.value)


def test_wrapping_a_connected_socket_names_its_peer(endpoint: UdpEndpoint) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(endpoint.address)
    with UdpTransport(sock) as t:
        assert t.url == endpoint.url
        assert t.socket is sock
        t.send(b"wrapped")
        assert endpoint.recv_from()[0] == b"wrapped"


def test_ipv6_loopback() -> None:
    try:
        ep = UdpEndpoint.bind("::1", 0)
    except TransportError as exc:
        pytest.skip(f"no IPv6 loopback: {exc}")
    with ep, open_message_transport(ep.url) as client:
        assert ep.url.startswith("udp://[::1]:")
        assert client.max_message == 65527  # IPv6: 65535 - 8 (UDP)
        client.send(b"six")
        message, peer = ep.recv_from(timeout=5.0)
        ep.send_to(message.upper(), peer)
        assert client.recv(timeout=5.0) == b"SIX"
