import redis
from redis.sentinel import Sentinel
import time

class FailoverHandler:
    def __init__(self, sentinel_hosts, service_name):
        self.sentinel = Sentinel(sentinel_hosts)
        self.service_name = service_name
        self._retries = 0
        self._max_retries = 3
    
    def execute_with_failover(self, operation, *args):
        """Execute with automatic failover recovery"""
        while self._retries < self._max_retries:
            try:
                master = self.sentinel.master_for(self.service_name)
                return operation(master, *args)
            except redis.ConnectionError:
                self._retries += 1
                if self._retries < self._max_retries:
                    wait_time = 2 ** self._retries  # Exponential backoff
                    print(f"Failover in progress, retrying in {wait_time}s...")
                    time.sleep(wait_time)
                else:
                    raise
    
    def set_key(self, key, value):
        """SET with failover handling"""
        def op(master, k, v):
            master.set(k, v)
        
        self.execute_with_failover(op, key, value)
    
    def get_key(self, key):
        """GET with failover handling"""
        def op(master, k):
            return master.get(k)
        
        return self.execute_with_failover(op, key)

# Usage
handler = FailoverHandler(
    [('localhost', 26379)], 
    'mymaster'
)

handler.set_key('critical_data', 'important_value')
print(handler.get_key('critical_data'))
