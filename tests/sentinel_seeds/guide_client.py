# Example with redis-py
from redis.sentinel import Sentinel

sentinel = Sentinel([
    ('127.0.0.1', 26379),
    ('127.0.0.1', 26380),
    ('127.0.0.1', 26381)
])

master = sentinel.master_for('mymaster')
master.set('key', 'value')
