def get_redis_connection(max_retries=3):
    """Get connection with retry."""
    for attempt in range(max_retries):
        try:
            master, _, _ = create_sentinel_connection()
            master.ping()
            return master
        except Exception as e:
            if attempt == max_retries - 1:
                raise
            time.sleep(2 ** attempt)
