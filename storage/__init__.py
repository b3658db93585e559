"""The only package that touches zarr, fsspec and store paths."""
