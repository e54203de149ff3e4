"""The application layer: the Python API (``api``, ``plan``), the command line (``cli``), the
batch and sweep runners on Dask, comparison, equity and reports, maps and export."""
