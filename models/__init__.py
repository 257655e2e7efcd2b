"""Model assets for Vicky: the registry file and the builder of the tiny test model."""
