def check_replication_lag(slave):
    """Check replication lag."""
    info = slave.info('replication')
    lag = info.get('master_last_io_seconds_ago', 0)

    if lag > 10:
        print(f"WARNING: Replication lag is {lag} seconds")
