import redis
from redis.sentinel import Sentinel

class SentinelCluster:
    def __init__(self, sentinel_hosts):
        # List of (host, port) tuples
        self.sentinel = Sentinel(sentinel_hosts)
    
    def get_master(self):
        """Get connection to master"""
        return self.sentinel.master_for('mymaster')
    
    def get_slave(self):
        """Get connection to replica"""
        return self.sentinel.slave_for('mymaster')
    
    def write(self, key, value):
        """Write to master"""
        master = self.get_master()
        master.set(key, value)
    
    def read(self, key):
        """Read from replica"""
        slave = self.get_slave()
        return slave.get(key)
    
    def check_status(self):
        """Check cluster status"""
        info = self.sentinel.master_for('mymaster').info()
        return {
            'role': info.get('role'),
            'connected_slaves': info.get('connected_slaves'),
            'uptime_seconds': info.get('uptime_in_seconds')
        }

# Usage
cluster = SentinelCluster([
    ('sentinel1', 26379),
    ('sentinel2', 26379),
    ('sentinel3', 26379)
])

cluster.write('key', 'value')
print(cluster.read('key'))
print(cluster.check_status())
