"""The SDK's version, sent in the User-Agent header."""

__version__ = "2.0.0"
