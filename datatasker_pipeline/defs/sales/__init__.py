"""The dropped-file domain: one dynamic partition and one run per dropped file."""
