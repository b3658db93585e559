"""Pure numeric feature functions: arrays in, arrays out. No files, no store, no Prefect."""
