import redis
from redis.sentinel import Sentinel
import time

sentinel = Sentinel([('localhost', 26379)], socket_timeout=0.1)
master = sentinel.master_for('mymaster', password='redis_password')

for i in range(1000):
    try:
        master.set(f'test:{i}', f'value-{i}')
        print(f'Written: {i}', end='\r')
        time.sleep(0.1)
    except Exception as e:
        print(f'\nError at {i}: {e}')
        time.sleep(2)
