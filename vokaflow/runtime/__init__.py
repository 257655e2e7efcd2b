"""Bringing the whole service up on one machine, and down again."""
