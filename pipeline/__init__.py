"""Dataset readers, label construction and units of work (ingest, extract, demo corpus)."""
