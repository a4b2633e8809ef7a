"""--sweep: the grid of pruning, clustering, quantization and QAT over one or more models, each
combination a task on a Dask cluster (a local one by default), results kept as they arrive."""
