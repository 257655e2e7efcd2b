"""Signed webhooks: configuration in Redis, delivery by a detached Ray actor that reads the
event stream (see vokaflow.store.events) with a consumer group."""
