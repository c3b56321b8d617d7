"""A team's own consumer image (examples/workflows/Dockerfile, FROM hookgate's): the Dockerfile names hookgate's
image and keeps its entrypoint and non-root user, and its steps, replayed on top of the image's virtualenv with
the chart's rendered pod for examples/workflows/values.yaml, give a consumer whose handlers import and pass
``check-config --handlers`` as the image's uid."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import hookgate
from tests.support import chart
from tests.support.image import Image, as_image_user, build_image, lay_out_pod, world_readable

CONTEXT = chart.ROOT / "examples" / "workflows"
DOCKERFILE = CONTEXT / "Dockerfile"
VALUES = CONTEXT / "values.yaml"


def instructions(path: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments and the parser directive dropped."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        assert word.isupper(), f"not an instruction: {line}"
        out.append((word, rest.strip()))
    return out


def test_the_team_dockerfile_builds_from_hookgate_and_keeps_its_entrypoint_and_user() -> None:
    steps = instructions(DOCKERFILE)
    known = {"ARG", "FROM", "USER", "COPY", "RUN", "ENV", "CMD", "WORKDIR", "LABEL"}
    assert {word for word, _ in steps} <= known
    arg = next(rest for word, rest in steps if word == "ARG")
    name, _, default = arg.partition("=")
    values = yaml.safe_load((chart.CHART / "values.yaml").read_text())["image"]
    assert default == f"{values['registry']}/{values['repository']}:{hookgate.__version__}"
    assert [rest for word, rest in steps if word == "FROM"] == [f"${{{name}}}"]
    assert not [w for w, _ in steps if w == "ENTRYPOINT"]  # hookgate's entrypoint: the chart passes `consumer ...`
    assert [rest for word, rest in steps if word == "USER"][-1] == "10001:10001"
    for word, rest in steps:
        if word == "COPY":
            *sources, _ = shlex.split(rest)
            for source in sources:
                assert (CONTEXT / source).is_file(), f"COPY {source}: not in the build context {CONTEXT}"
    env = dict(part.split("=", 1) for word, rest in steps if word == "ENV" for part in shlex.split(rest))
    cmd = yaml.safe_load(next(rest for word, rest in steps if word == "CMD"))
    module = cmd[cmd.index("--handlers") + 1].partition(":")[0]
    copied = [shlex.split(rest)[-1] for word, rest in steps if word == "COPY"]
    assert any(f"{dest.rstrip('/')}/{module}.py".startswith(env["PYTHONPATH"]) for dest in copied)


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    img = build_image()
    yield img
    shutil.rmtree(img.root, ignore_errors=True)


def replay(image: Image, root: Path) -> Path:
    """The Dockerfile's COPY and RUN steps on top of the image's virtualenv; returns the team's directory."""
    team = root / "opt" / "team"

    def here(text: str) -> str:
        return text.replace("/opt/hookgate", str(image.venv)).replace("/opt/team", str(team))

    for word, rest in instructions(DOCKERFILE):
        if word == "COPY":
            *sources, dest = shlex.split(rest)
            target = Path(here(dest))
            for source in sources:
                into = target / source if dest.endswith("/") else target
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(CONTEXT / source, into)
        elif word == "RUN":
            res = subprocess.run(shlex.split(here(rest)), capture_output=True, text=True, timeout=600, check=False)
            assert res.returncode == 0, f"RUN {rest}: {res.stderr}"
    world_readable(root)
    return team


def test_the_chart_runs_the_team_image_and_its_handlers_pass_check_config(image: Image) -> None:
    objects = chart.render([VALUES])
    [deployment] = [d for d in chart.of_kind(objects, "Deployment") if d["metadata"]["name"].endswith("team-deploys")]
    pod_spec = deployment["spec"]["template"]["spec"]
    container = pod_spec["containers"][0]
    assert container["image"] == "registry.internal/team-deploys:1.0.0"
    args = container["args"]
    assert args[args.index("--handlers") + 1] == "deploy_handler:app"
    probes = {k: container[k]["httpGet"]["path"] for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}

    root = Path(tempfile.mkdtemp(prefix="hookgate-team-image-"))
    root.chmod(0o755)
    try:
        team = replay(image, root)
        config_maps = {c["metadata"]["name"]: c for c in chart.of_kind(objects, "ConfigMap")}
        pod = lay_out_pod(pod_spec, config_maps, root / "pod")
        assert pod.config is not None
        handlers = [pod.args[i + 1] for i, a in enumerate(pod.args) if a == "--handlers"]
        res = subprocess.run(
            [*as_image_user(), str(image.bin("hookgate")), "check-config", "--kind", "consumer", "-c", str(pod.config)]
            + [arg for spec in handlers for arg in ("--handlers", spec)],
            env=image.process_env({**pod.env, "PYTHONPATH": str(team)}),
            cwd="/tmp",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        assert "deploy-main (python team-deploys, deploy_handler:app)" in res.stdout
        assert "announce-release (python team-deploys, deploy_handler:app)" in res.stdout
        assert (team / "__pycache__").is_dir()  # compiled at build: nothing is written at run time
    finally:
        shutil.rmtree(root, ignore_errors=True)
