#!/usr/bin/env python3
import redis
from redis.sentinel import Sentinel
import time

def create_sentinel_connection():
    """Create Redis connection via Sentinel."""
    # Sentinel addresses
    sentinel_list = [
        ('localhost', 26379),
        ('localhost', 26380),
        ('localhost', 26381)
    ]

    # Create Sentinel instance
    sentinel = Sentinel(
        sentinel_list,
        socket_timeout=5,
        password='redis_password'
    )

    # Discover master
    master = sentinel.master_for(
        'mymaster',
        socket_timeout=5,
        password='redis_password',
        decode_responses=True
    )

    # Discover slave for reads
    slave = sentinel.slave_for(
        'mymaster',
        socket_timeout=5,
        password='redis_password',
        decode_responses=True
    )

    return master, slave, sentinel

def test_failover_resilience():
    """Test automatic failover handling."""
    master, slave, sentinel = create_sentinel_connection()

    print("Testing Sentinel failover resilience\n")

    # Write data
    print("1. Writing to master...")
    for i in range(100):
        try:
            master.xadd('test:stream', {'id': i, 'data': f'message-{i}'})
            print(f"   Written: {i}", end='\r')
            time.sleep(0.1)
        except redis.ConnectionError as e:
            print(f"\n   Connection lost at message {i}: {e}")
            print("   Waiting for failover...")
            time.sleep(5)

            # Reconnect (Sentinel will discover new master)
            master, slave, sentinel = create_sentinel_connection()
            print("   Reconnected to new master, continuing...")

    print("\n2. Verifying data...")
    length = master.xlen('test:stream')
    print(f"   Stream length: {length}")

    # Cleanup
    master.delete('test:stream')

def monitor_sentinel_status():
    """Monitor Sentinel status continuously."""
    master, slave, sentinel = create_sentinel_connection()

    while True:
        try:
            # Get master info
            master_info = sentinel.sentinel_master('mymaster')

            print("\n" + "="*60)
            print(f"Sentinel Status - {time.strftime('%H:%M:%S')}")
            print("="*60)
            print(f"Master: {master_info['ip']}:{master_info['port']}")
            print(f"Status: {master_info['flags']}")
            print(f"Replicas: {master_info['num-slaves']}")
            print(f"Sentinels: {master_info['num-other-sentinels']}")

            time.sleep(5)
        except Exception as e:
            print(f"Error: {e}")
            time.sleep(1)

def main():
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == 'monitor':
        monitor_sentinel_status()
    else:
        test_failover_resilience()

if __name__ == "__main__":
    main()
