"""The HAProxy config rewrite that keeps Serve's Prometheus and stats frontends, and its
admin socket, away from everyone but the service (vokaflow.runtime.loopback)."""

from __future__ import annotations

from vokaflow.runtime.loopback import HAPROXY_DIR, haproxy_node_dir, loopback_config

# The parts of Serve's HAProxy config (ray/serve/_private/haproxy_templates.py) that bind.
SERVE_CONFIG = """global
    stats socket /tmp/x/admin.sock mode 666 level admin expose-fd listeners
defaults
    mode http
frontend prometheus
    bind :9101
    mode http
frontend http_frontend
    bind *:8000
    acl routes path -i /-/routes
backend default_backend
    http-request return status 404
listen stats
  bind *:8404
  stats enable
"""


def test_the_prometheus_and_stats_frontends_listen_on_loopback():
    rewritten = loopback_config(SERVE_CONFIG).splitlines()
    assert "    bind 127.0.0.1:9101" in rewritten
    assert "  bind 127.0.0.1:8404" in rewritten


def test_the_api_frontend_keeps_the_address_the_operator_chose():
    assert "    bind *:8000" in loopback_config(SERVE_CONFIG).splitlines()


def test_the_admin_socket_is_for_its_user_only():
    rewritten = loopback_config(SERVE_CONFIG)
    assert "admin.sock mode 600 level admin" in rewritten and "666" not in rewritten


def test_the_api_frontend_names_the_client_itself_whatever_the_client_sent():
    rewritten = loopback_config(SERVE_CONFIG).splitlines()
    bind = rewritten.index("    bind *:8000")
    assert rewritten[bind + 1] == "    http-request set-header X-Forwarded-For %[src]"
    assert rewritten.count("    http-request set-header X-Forwarded-For %[src]") == 1


def test_a_haproxy_of_ours_is_known_by_its_nodes_folder_in_the_runtime_folder():
    node = HAPROXY_DIR / ("ab" * 28)
    ours = ["haproxy", "-db", "-f", str(node / "haproxy.cfg.loopback"), "-sf", "12"]
    assert haproxy_node_dir(ours) == node
    assert haproxy_node_dir(["haproxy", "-f", "/etc/haproxy/haproxy.cfg"]) is None
    assert haproxy_node_dir(["haproxy", "-f"]) is None
