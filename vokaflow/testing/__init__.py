"""Test and benchmark tooling: a whole local stack in subprocesses, Redis servers to run it
on, and the tally of what became of a drill's tasks. Nothing in the service imports it."""
