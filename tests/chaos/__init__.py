"""Fault injection on the session's stack (tests/conftest.py), run after every other test
that uses it: a scheduler kill, a worker's SIGKILL, Redis restarts, and last `down` and `up`."""
