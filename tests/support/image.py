"""The container image without a Docker engine: the Dockerfile's own pip commands into a clean virtualenv, and
rendered pods run as processes from it with their mounts laid out under a directory of their own."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.chart import ROOT

DOCKERFILE = ROOT / "Dockerfile"
IMAGE_UID = 10001


def dockerfile_commands() -> tuple[list[str], list[str], dict[str, str]]:
    """(the build stage's pip wheel command, the runtime stage's venv+install command, the runtime ENV)."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    runs = [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("RUN ")]
    wheel = next(r for r in runs if re.search(r"\bpip wheel\b", r))
    install = next(r for r in runs if re.search(r"\bpip install\b", r))
    install = re.sub(r"--mount=\S+\s+", "", install)
    envs = [line[4:] for line in text.splitlines() if line.startswith("ENV ")]
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(envs)))
    return shlex.split(wheel), shlex.split(install), env


@dataclass
class Image:
    """A virtualenv built as the Dockerfile builds /opt/hookgate; paths of the image mapped under ``root``."""

    root: Path
    wheel: Path
    venv: Path
    env: dict[str, str]

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    def process_env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v.replace("$PATH", os.environ.get("PATH", "")) for k, v in self.env.items()}
        env["PATH"] = env.get("PATH", "").replace("/opt/hookgate", str(self.venv))
        return {"LANG": "C.UTF-8", **env, **extra}


def world_readable(path: Path) -> None:
    """Let the image's uid read (not write) the tree, as files of a read-only image layer."""
    for p in [path, *path.rglob("*")]:
        if p.is_symlink():
            continue
        mode = p.stat().st_mode
        p.chmod(
            (mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXGRP | stat.S_IXOTH if p.is_dir() or mode & 0o100 else 0))
            & ~0o022
        )


def build_image() -> Image:
    wheel_cmd, install_cmd, env = dockerfile_commands()
    root = Path(tempfile.mkdtemp(prefix="hookgate-image-"))
    src, wheels, venv = root / "src", root / "wheels", root / "opt" / "hookgate"
    # The build context is what the Dockerfile copies (.dockerignore lets nothing else in).
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "services", src / "services", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    assert wheel_cmd[:4] == ["python", "-m", "pip", "wheel"], wheel_cmd
    cmd = [sys.executable, *wheel_cmd[1:]]
    cmd[cmd.index("/wheels")] = str(wheels)
    run(cmd, cwd=src)
    # python -m venv /opt/hookgate && /opt/hookgate/bin/pip install ... --find-links /wheels hookgate
    first, second = " ".join(install_cmd).split(" && ")
    assert first == "python -m venv /opt/hookgate", first
    run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    pip = [arg.replace("/opt/hookgate", str(venv)).replace("/wheels", str(wheels)) for arg in shlex.split(second)]
    run(pip, cwd=root)
    world_readable(root)
    wheel = next(wheels.glob("hookgate-*.whl"))
    return Image(root=root, wheel=wheel, venv=venv, env=env)


def run(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-4000:]}")


def as_image_user() -> list[str]:
    """Run as the image's numeric uid (as root here), else as the unprivileged user the tests run as."""
    if os.geteuid() == 0:
        return ["setpriv", f"--reuid={IMAGE_UID}", f"--regid={IMAGE_UID}", "--clear-groups", "--"]
    return []


def fake_secret(name: str, key: str) -> str:
    """The value a test gives key ``key`` of Secret ``name``: the same wherever that key is referenced."""
    return f"test-{name}-{key}"


@dataclass
class Pod:
    """One rendered container laid out under ``root``: its mounts as directories, its env resolved."""

    root: Path
    args: list[str]
    env: dict[str, str]
    ports: dict[str, int]
    probes: dict[str, tuple[str, str]] = field(default_factory=dict)
    config: Path | None = None

    def path(self, in_pod: str) -> str:
        return str(self.root) + in_pod


def lay_out_pod(
    pod_spec: dict[str, Any], config_maps: dict[str, dict[str, Any]], root: Path, container: int = 0
) -> Pod:
    """Write the container's configMap and secret volumes under ``root`` (at their mountPaths); emptyDir /tmp
    stays the host's /tmp. Mount paths in args and config files are rewritten under ``root``."""
    c = pod_spec["containers"][container]
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"] != "/tmp"]
    root.mkdir(parents=True, exist_ok=True)
    config: Path | None = None

    def relocate(text: str) -> str:
        for m in sorted(mounts, key=lambda m: -len(m["mountPath"])):
            text = re.sub(rf"(?<![\w/]){re.escape(m['mountPath'])}(?=/|$|\s|['\"])", str(root) + m["mountPath"], text)
        return text

    for m in mounts:
        vol = volumes[m["name"]]
        target = root / m["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        if "configMap" in vol:
            data = config_maps.get(vol["configMap"]["name"], {}).get("data", {})
            for item in vol["configMap"].get("items", [{"key": k, "path": k} for k in data]):
                if item["key"] in data:
                    (target / item["path"]).write_text(relocate(data[item["key"]]))
                    config = target / item["path"]
        elif "secret" in vol:
            name = vol["secret"]["secretName"]
            for item in vol["secret"]["items"]:
                (target / item["path"]).write_text(fake_secret(name, item["key"]))
    env: dict[str, str] = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = fake_secret(ref["name"], ref["key"])
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    probes = {
        kind: (c[kind]["httpGet"]["path"], c[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        if kind in c
    }
    world_readable(root)
    return Pod(
        root=root, args=[relocate(a) for a in c.get("args", [])], env=env, ports=ports, probes=probes, config=config
    )
