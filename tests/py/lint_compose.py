"""Lints docker/compose.yml (no Docker engine runs on the project's machines): the tollgate
service builds docker/Dockerfile and is health-checked by the binary's own --check-health
(the image has no shell tools to do it otherwise), the app waits for service_healthy, the
config and data directory are mounted, and nothing pip-installs at start.

    python3 lint_compose.py <repository root>

Prints OK last."""

import os
import sys

try:
    import yaml
except ImportError:
    print("PyYAML is not installed: pip install pyyaml", file=sys.stderr)
    sys.exit(2)

from harness import check

root = sys.argv[1]
docker = os.path.join(root, "docker")
with open(os.path.join(docker, "compose.yml")) as f:
    compose = yaml.safe_load(f)

services = compose["services"]
tg = services["tollgate"]
check(tg["build"]["dockerfile"] == "docker/Dockerfile", "tollgate builds docker/Dockerfile")
check(os.path.isfile(os.path.join(docker, tg["build"]["context"], tg["build"]["dockerfile"])),
      "the Dockerfile is where the build context says")
hc = tg["healthcheck"]
check(hc["test"] == ["CMD", "/usr/local/bin/tollgate", "--check-health"],
      f"the health check runs the binary's check mode, exec form: {hc['test']}")
for key in ("interval", "timeout", "retries", "start_period"):
    check(key in hc, f"healthcheck.{key} is set")
mounts = [v.split(":")[1] for v in tg["volumes"]]
check("/data" in mounts, "the data directory is a volume")
check("/etc/tollgate/tollgate.toml" in mounts, "the config file is mounted")
check(any(p.endswith(":9121") for p in tg.get("ports", [])), "the metrics port is published")
check("TOLLGATE_REQUIREPASS" in tg["environment"],
      "a password: the image listens on all interfaces, protected mode needs one")

others = [name for name in services if name != "tollgate"]
check(others, "an app beside tollgate")
for name in others:
    s = services[name]
    dep = s.get("depends_on", {}).get("tollgate", {})
    check(dep.get("condition") == "service_healthy", f"{name} waits for tollgate to be healthy")
    text = yaml.safe_dump(s)
    check("pip install" not in text, f"{name} installs nothing at start")
    url = s.get("environment", {}).get("REDIS_URL", "")
    check("@tollgate:6379" in url, f"{name} talks to tollgate:6379: {url}")
    if "build" in s:
        ctx = os.path.join(docker, s["build"]["context"])
        check(os.path.isfile(os.path.join(ctx, s["build"].get("dockerfile", "Dockerfile"))),
              f"{name}'s Dockerfile exists")
for volume in (v.split(":")[0] for v in tg["volumes"]):
    if not volume.startswith((".", "/")):
        check(volume in compose.get("volumes", {}), f"the named volume {volume} is declared")
    else:
        check(os.path.exists(os.path.join(docker, volume)), f"{volume} exists")
print("OK")
