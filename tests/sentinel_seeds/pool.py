from redis.sentinel import Sentinel
from redis import ConnectionPool

# Sentinel with pool
sentinel = Sentinel([
    ('localhost', 26379),
    ('localhost', 26380),
    ('localhost', 26381)
])

# Get master with pool
master = sentinel.master_for(
    'mymaster',
    socket_timeout=0.1,
    socket_connect_timeout=0.1,
    socket_keepalive=True,
    connection_pool_kwargs={
        'max_connections': 50
    }
)
