"""Real servers' ports: stable within a process, apart between processes."""

import os

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
