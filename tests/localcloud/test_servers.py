"""Real servers' ports: stable within a process, apart between processes."""

import logging
import os

import pytest

from localcloud.core.servers import Servers


def port_in(monkeypatch, pid: int) -> int:
    monkeypatch.setattr(os, "getpid", lambda: pid)
    servers = Servers(None)
    port = servers.add("Cache", lambda port: lambda: None).port
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

    def launch(port: int):
        raise OSError(f"port {port} is taken")

    servers = Servers(None)
    server = servers.add("Cache", launch)
    with caplog.at_level(logging.ERROR, logger="localcloud.servers"), pytest.raises(OSError):
        server.ensure_started()
    assert f"the Cache server did not start on port {server.port}: port {server.port} is taken" in caplog.text
    servers.stop()
