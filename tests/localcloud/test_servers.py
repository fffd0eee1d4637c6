"""Real servers' ports: stable within a process, apart between processes."""

import logging
import os
import socket

import pytest

from localcloud.core.servers import LOOPBACK, Servers, released_port


def port_in(monkeypatch, pid: int) -> int:
    monkeypatch.setattr(os, "getpid", lambda: pid)
    servers = Servers(None)
    port = servers.add("Cache", lambda reserved: reserved.close).port
    servers.stop()
    return port


def test_two_processes_running_the_same_stack_prefer_different_ports(monkeypatch):
    """pytest's workers run the same stack at once: with one preferred port, one worker's server
    could lose its port to the other's reservation and a cache-aside handler silently skip it."""
    assert port_in(monkeypatch, 1001) != port_in(monkeypatch, 1002)


def test_a_process_gets_the_same_port_again_where_it_is_free(monkeypatch):
    assert port_in(monkeypatch, 1001) == port_in(monkeypatch, 1001)


def test_a_server_that_does_not_start_says_so_beside_the_clients_error(caplog):
    """A cache-aside handler turns the client's connection error into a database read: the log
    still names the server that did not start, and why."""

    def launch(reserved: socket.socket):
        raise OSError(f"port {reserved.getsockname()[1]} is taken")

    servers = Servers(None)
    server = servers.add("Cache", launch)
    with caplog.at_level(logging.ERROR, logger="localcloud.servers"), pytest.raises(OSError):
        server.ensure_started()
    assert f"the Cache server did not start on port {server.port}: port {server.port} is taken" in caplog.text
    servers.stop()


def taken(port: int) -> bool:
    """Whether another socket fails to bind the loopback ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        try:
            other.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def test_a_server_in_this_process_listens_on_the_reserved_socket_so_the_port_is_never_free():
    seen = {}

    def launch(reserved: socket.socket):
        seen["free while launching"] = not taken(reserved.getsockname()[1])
        reserved.listen(1)
        return reserved.close

    servers = Servers(None)
    server = servers.add("Db", launch)
    assert taken(server.port), "reserved from the start"
    server.ensure_started()
    assert seen == {"free while launching": False}
    with socket.create_connection((LOOPBACK, server.port), timeout=1):
        pass  # the handed socket is the server's listener
    servers.stop()
    assert not taken(server.port), "let go when the server stops"


def test_a_server_binary_gets_the_port_let_go_and_a_failed_start_lets_it_go_too():
    ports = []

    def launch(reserved: socket.socket):
        ports.append(released_port(reserved))
        assert not taken(ports[-1]), "free for the binary to bind"
        raise OSError("the binary did not start")

    servers = Servers(None)
    server = servers.add("Cache", launch)
    with pytest.raises(OSError):
        server.ensure_started()
    assert ports == [server.port] and not taken(server.port)
    with pytest.raises(OSError):
        server.ensure_started()  # tried again on the same port, bound anew
    assert ports == [server.port] * 2
    servers.stop()
