"""Programs meant to run as Ray jobs (``ray job submit -- python -m vokaflow.jobs.NAME``)."""
