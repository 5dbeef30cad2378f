import redis
from redis.sentinel import Sentinel
import time

class HealthMonitor:
    def __init__(self, sentinel_hosts):
        self.sentinel = Sentinel(sentinel_hosts)
    
    def monitor_masters(self, interval=5):
        """Monitor master health"""
        while True:
            try:
                masters = self.sentinel.execute_command('SENTINEL', 'masters')
                for master in masters:
                    name = master[b'name'].decode()
                    flags = master[b'flags'].decode()
                    
                    print(f"Master {name}: {flags}")
                    
                    if b'disconnected' in flags or b'failover' in flags:
                        self.alert_failover(name)
                
                time.sleep(interval)
            except redis.ConnectionError:
                print("Lost connection to Sentinel")
                time.sleep(interval)
    
    def alert_failover(self, master_name):
        """Alert on failover"""
        print(f"⚠️  Master {master_name} failing over!")

# Usage
monitor = HealthMonitor([('localhost', 26379)])
# monitor.monitor_masters()  # Run in background
