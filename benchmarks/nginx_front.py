"""The shipped nginx configuration (deploy/nginx) placed on loopback: the edge of the load tests
and of the nginx tests.

`render_config` copies deploy/nginx and changes only upstream addresses, listen ports and file
paths (and, for load tests, nginx's per-address rate limits), failing when one of them is no
longer where it expects it, so what runs is the configuration RefNet ships.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.api_wrk import free_port, server

ROOT = Path(__file__).resolve().parents[1]
NGINX_DIR = ROOT / "deploy" / "nginx"
# A load generator's simulated users all come from one address, which nginx's per-address
# limits (sign-in 10/minute, the API 20/s) would otherwise stop after a few requests.
LIFTED_LIMITS = {
    "rate=10r/m;": "rate=100000r/s;",
    "rate=20r/s;": "rate=100000r/s;",
}


@dataclass(frozen=True)
class Placement:
    """Where an nginx on loopback finds its upstreams and files, and where it listens."""

    api: str  # host:port
    flower: str
    http_port: int
    https_port: int
    status_port: int
    tls_dir: Path
    acme_dir: Path
    pid_file: Path
    access_log: Path | None  # None: no access log (load tests: the disk is not what is measured)


def render_config(target: Path, placement: Placement, *, lift_limits: bool = False) -> Path:
    """A copy of deploy/nginx in `target`, placed; returns its nginx.conf."""
    log = placement.access_log
    access_log = f"access_log {log} refnet_json;" if log else "access_log off;"
    replacements = {
        "server api:8000;": f"server {placement.api};",
        "server flower:5555;": f"server {placement.flower};",
        "listen 80 ": f"listen 127.0.0.1:{placement.http_port} ",
        "listen 443 ": f"listen 127.0.0.1:{placement.https_port} ",
        "listen 8080;": f"listen 127.0.0.1:{placement.status_port};",
        "/etc/nginx/tls/": f"{placement.tls_dir}/",
        "/var/www/acme": str(placement.acme_dir),
        "/run/nginx.pid": str(placement.pid_file),
        "access_log /dev/stdout refnet_json;": access_log,
        **(LIFTED_LIMITS if lift_limits else {}),
    }
    shutil.copytree(NGINX_DIR, target)
    unused = set(replacements)
    for conf in target.rglob("*.conf"):
        text = conf.read_text()
        for old, new in replacements.items():
            if old in text:
                text = text.replace(old, new)
                unused.discard(old)
        conf.write_text(text)
    if unused:
        raise RuntimeError(f"the shipped nginx configuration no longer contains {sorted(unused)}")
    return target / "nginx.conf"


def dev_certificate(tls_dir: Path) -> Path:
    """`tls_dir` with fullchain.pem and privkey.pem for localhost and 127.0.0.1, made by the
    operator's script (scripts/generate-ssl-cert.sh)."""
    script = ROOT / "scripts" / "generate-ssl-cert.sh"
    done = subprocess.run([str(script), str(tls_dir)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} failed: {done.stderr}")
    return tls_dir


def nginx_binary() -> str:
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if Path(candidate).is_file():
            return candidate
    raise RuntimeError("nginx is not installed: `apt-get install -y nginx` (Debian)")


@contextmanager
def nginx_in_front(api: str, workdir: Path, tls_dir: Path) -> Iterator[tuple[int, int]]:
    """The shipped configuration in front of `api` (host:port) on loopback, with nginx's
    per-address rate limits lifted; yields its HTTPS port and nginx's pid."""
    placement = Placement(
        api=api,
        flower="127.0.0.1:9",
        http_port=free_port(),
        https_port=free_port(),
        status_port=free_port(),
        tls_dir=tls_dir,
        acme_dir=workdir / "acme",
        pid_file=workdir / "nginx.pid",
        access_log=None,
    )
    conf = render_config(workdir / "nginx", placement, lift_limits=True)
    command = [nginx_binary(), "-p", f"{conf.parent}/", "-c", str(conf), "-g", "daemon off;"]
    ready = f"http://127.0.0.1:{placement.status_port}/stub_status"
    with server(command, dict(os.environ), ready) as process:
        yield placement.https_port, process.pid
