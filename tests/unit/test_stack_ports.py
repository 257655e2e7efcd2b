"""Stacks side by side: each head that a test stack's `up` starts gets ports of its own
where Ray and Serve would fix them."""

from __future__ import annotations

import json

from vokaflow.testing.stack import LocalStack, free_port, ports_of_its_own


def _ranges(ports: dict[str, str]) -> list[range]:
    def span(kind: str) -> range:
        low = int(ports[f"RAY_SERVE_DIRECT_INGRESS_MIN_{kind}_PORT"])
        return range(low, int(ports[f"RAY_SERVE_DIRECT_INGRESS_MAX_{kind}_PORT"]) + 1)

    return [span("HTTP"), span("GRPC")]


def test_the_test_stacks_gateway_ports_give_disjoint_replica_port_blocks():
    blocks = [r for port in range(8792, 8800) for r in _ranges(ports_of_its_own(port))]
    taken = [port for block in blocks for port in block]
    assert len(taken) == len(set(taken))
    assert all(20000 <= port < 21000 for port in taken)  # below the ephemeral ports


def test_ray_and_serve_get_no_fixed_port():
    ports = ports_of_its_own(8799)
    ray_start = json.loads(ports["VOKAFLOW_RAY_START_OPTIONS"])
    assert ray_start["min-worker-port"] == ray_start["max-worker-port"] == 0  # random
    for fixed in ("dashboard-agent-listen-port", "ray-client-server-port"):
        assert ray_start[fixed] not in (52365, 10001)
    assert ports["RAY_SERVE_HAPROXY_METRICS_PORT"] != "9101"
    assert ports["RAY_SERVE_HAPROXY_STATS_PORT"] != "8404"


def test_a_stack_keeps_its_ports_and_passes_them_to_up(tmp_path):
    stack = LocalStack(home=tmp_path, port=8794)
    assert stack.env["VOKAFLOW_RAY_START_OPTIONS"] == stack.env["VOKAFLOW_RAY_START_OPTIONS"]
    assert (
        stack.env["RAY_SERVE_HAPROXY_STATS_PORT"]
        == stack.side_ports["RAY_SERVE_HAPROXY_STATS_PORT"]
    )


def test_picked_ports_lie_below_the_ephemeral_ports_and_are_never_handed_out_twice():
    picked = [free_port() for _ in range(200)]
    assert len(set(picked)) == len(picked)
    assert all(10_002 <= port < 20_000 for port in picked)  # the OS hands out 32768-60999
