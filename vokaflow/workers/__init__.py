"""Worker types as Ray resources, and the remote executor that runs registered functions."""
