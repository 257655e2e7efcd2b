"""A peer on the network, and another user of the machine, against the session stack's Ray
head, which runs without authentication (RAY_AUTH_MODE=disabled, as `vokaflow up` does by
default). Whoever reaches a Ray port runs code as the service: none may be open beyond
loopback, and no Unix socket of the stack may admit another user (Serve's HAProxy
makes its admin socket mode 666).

The token-auth head, on which other nodes may join, is tested in tests/cluster_auth."""

from __future__ import annotations

import ipaddress
import re
import stat
from pathlib import Path

import psutil

from vokaflow.testing.stack import LocalStack


def _stack_processes(stack: LocalStack) -> list[psutil.Process]:
    """The stack's processes: `up` passes its environment (with the stack's key prefix) to
    Ray, Ray to its workers, and Serve to HAProxy."""
    found = []
    names = set()
    for process in psutil.process_iter():
        try:
            if process.environ().get("VOKAFLOW_KEY_PREFIX") == stack.key_prefix:
                names.add(process.name())  # read now: a short-lived child may be gone later
                found.append(process)
        except psutil.Error:  # gone, or not ours
            continue
    assert {"gcs_server", "raylet", "haproxy"} <= names, names
    return found


def _connections(process: psutil.Process, kind: str) -> list:
    try:
        return list(process.net_connections(kind=kind))
    except psutil.NoSuchProcess:
        return []


def _is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def test_no_process_of_the_stack_listens_beyond_loopback(stack):
    exposed = [
        f"{process.name()} (pid {process.pid}) on {connection.laddr.ip}:{connection.laddr.port}"
        for process in _stack_processes(stack)
        for connection in _connections(process, "inet")
        # a TCP listener, or a UDP socket that takes datagrams from anyone
        if connection.status == psutil.CONN_LISTEN or (connection.laddr and not connection.raddr)
        if not _is_loopback(connection.laddr.ip)
    ]
    assert exposed == []


def _may_connect(path: Path, who: int) -> bool:
    """Whether the class of users ``who`` (stat.S_IRWXG or S_IRWXO) may connect to a Unix
    socket: it needs search on every folder above it and write on the socket."""
    search = who & (stat.S_IXGRP | stat.S_IXOTH)
    write = who & (stat.S_IWGRP | stat.S_IWOTH)
    folders_open = all(folder.stat().st_mode & search for folder in path.parents)
    return folders_open and bool(path.stat().st_mode & write)


def test_no_other_user_may_connect_to_a_unix_socket_of_the_stack(stack):
    # HAProxy binds <name>.<pid>.tmp, then renames it to <name>
    paths = {
        re.sub(r"\.\d+\.tmp$", "", connection.laddr)
        for process in _stack_processes(stack)
        for connection in _connections(process, "unix")
        if connection.laddr
    }
    assert any(path.endswith("/admin.sock") for path in paths), paths  # HAProxy's
    open_to_others = [
        path
        for path in paths
        if path.startswith(("\0", "@"))  # abstract: no permissions at all
        or any(_may_connect(Path(path), who) for who in (stat.S_IRWXG, stat.S_IRWXO))
    ]
    assert open_to_others == []
