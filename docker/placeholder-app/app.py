"""PLACEHOLDER app beside tollgate (docker/compose.yml), until the example apps land: asks
for a rate-limit decision (the `ai` policy of the shipped config) every 5 seconds."""

import os
import time

import redis

r = redis.Redis.from_url(os.environ["REDIS_URL"], protocol=3)
while True:
    print(r.execute_command("RL.CHECK", "user:1", "POLICY", "ai"), flush=True)
    time.sleep(5)
