"""Public workload traces (../shared/data) turned into snapshots and demand series."""
