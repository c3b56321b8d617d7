"""The image, as far as it can be tested without a Docker engine: the wheel builds and holds every module, the
Dockerfile's own install command puts it in a clean virtualenv, and the chart's rendered pods run from it as the
image's non-root uid with nothing writable but /tmp: the config passes check-config, and (with a real broker) the
gateway and a consumer become ready, answer their probes, and take the helm test's signed request."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support import chart
from tests.support.image import Image, Pod, as_image_user, build_image, dockerfile_commands, lay_out_pod
from tests.support.kafka import free_port

SCENARIO_IDS = [p.name.removesuffix("-values.yaml") for p in chart.SCENARIOS]


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    img = build_image()
    yield img
    shutil.rmtree(img.root, ignore_errors=True)


def test_dockerfile_is_multi_stage_non_root_with_hookgate_as_entrypoint() -> None:
    text = (chart.ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert stages == ["python:3.11-slim", "python:3.11-slim"]
    runtime = text.split("\nFROM python:3.11-slim\n", 1)[1]
    assert re.search(r"^USER 10001:10001$", runtime, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["hookgate"]' in runtime
    # The runtime stage installs wheels only (--no-index): nothing is compiled there, no compiler is installed.
    assert "--no-index" in runtime
    assert not re.search(r"apt-get install|gcc|build-essential", runtime)
    _, install, env = dockerfile_commands()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "--compile" in install
    ignore = [line for line in (chart.ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert ignore[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!services/"} <= set(ignore)


def test_the_wheel_holds_every_module_without_a_symlink(image: Image) -> None:
    names = set(zipfile.ZipFile(image.wheel).namelist())
    want = {"hookgate/" + str(p.relative_to(chart.ROOT / "services")) for p in (chart.ROOT / "services").rglob("*.py")}
    assert want
    assert want <= names, sorted(want - names)
    assert "hookgate/py.typed" in names
    site = next(image.venv.glob("lib/python*/site-packages/hookgate"))
    installed = {"hookgate/" + str(p.relative_to(site)) for p in site.rglob("*.py")}
    assert installed == want
    assert not [p for p in site.rglob("*") if p.is_symlink()]


def test_hookgate_runs_from_the_image_as_its_uid(image: Image) -> None:
    res = subprocess.run(
        [*as_image_user(), str(image.bin("hookgate")), "--help"],
        env=image.process_env({}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    for command in ("gateway", "consumer", "check-config", "send"):
        assert command in res.stdout


def rendered_pods(objects: list[dict[str, Any]], root: Path) -> dict[str, Pod]:
    maps = {o["metadata"]["name"]: o for o in chart.of_kind(objects, "ConfigMap")}
    return {
        dep["metadata"]["name"]: lay_out_pod(dep["spec"]["template"]["spec"], maps, root / dep["metadata"]["name"])
        for dep in chart.of_kind(objects, "Deployment")
    }


def kind_of(args: list[str]) -> str:
    return args[0]


def snapshot(path: Path) -> set[str]:
    return {str(p) for p in path.rglob("*")}


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_rendered_config_passes_check_config(scenario: Path, image: Image, tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="hookgate-pods-"))
    root.chmod(0o755)
    try:
        pods = rendered_pods(chart.render([scenario]), root)
        checked = 0
        for name, pod in pods.items():
            if pod.config is None:  # existingConfigMap: the file is the user's, not the chart's
                continue
            res = subprocess.run(
                [
                    *as_image_user(),
                    str(image.bin("hookgate")),
                    "check-config",
                    "--kind",
                    kind_of(pod.args),
                    "-c",
                    str(pod.config),
                ],
                env=image.process_env(pod.env),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert res.returncode == 0, f"{name}: {res.stderr}"
            assert res.stdout.strip().endswith(": ok")
            checked += 1
        configs = [o for o in chart.of_kind(chart.render([scenario]), "ConfigMap") if "config.yaml" in o["data"]]
        assert checked == len(configs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def notes(values: list[Path], sets: list[str], tmp_path: Path) -> str:
    """NOTES.txt as helm renders it (helm template leaves NOTES out, so a copy of the chart renders it once)."""
    copy = tmp_path / "chart"
    shutil.copytree(chart.CHART, copy)
    text = (copy / "templates" / "NOTES.txt").read_text()
    (copy / "templates" / "_notes_test.tpl").write_text('{{- define "test.notes" -}}' + text + "{{- end -}}")
    (copy / "templates" / "notes-test.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data:\n  notes: {{ include "test.notes" . | toJson }}\n'
    )
    out = chart.helm(*chart.template_args(values, sets, chart=copy), "--show-only", "templates/notes-test.yaml").stdout
    return str(yaml.safe_load(out)["data"]["notes"])


def notes_topics(text: str) -> list[str]:
    block = text.split("\nTopics:\n", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  (\S+)  \(", block, flags=re.MULTILINE)]


def test_notes_print_the_trigger_urls_next_commands_and_topics(tmp_path: Path) -> None:
    text = notes([chart.CHART / "ci" / "production-values.yaml"], [], tmp_path)
    assert "Trigger base URL: https://hooks.example.com/hooks/<trigger id>" in text
    assert "github (tenant acme): https://hooks.example.com/hooks/prod-github-Zq81mXkP0sVb4TnR2yLw7cHd" in text
    assert len(re.findall(r"^  [123]\. ", text, flags=re.MULTILINE)) == 3
    assert "helm test hg -n hooks" in text
    assert "kafka.createTopics is false" in text
    assert notes_topics(text) == [
        "hooks.acme",
        "hooks.billing",
        "hooks._audit",
        "hooks._triggers",
        "hooks._deadletter.hooks-workflows",
        "hooks._dedupe.hooks-workflows",
        "hooks._deadletter_state.hooks-workflows",
        "hooks._redrive.hooks-workflows",
    ]
    assert "Consumer workflows: group id hooks-workflows" in text
    assert "docs/runbooks.md" in text


async def create_topics(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1) for t in topics])
    finally:
        await admin.close()


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:  # loopback test URL
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the process exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        if get(url) == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"{url} never answered 200:\n{log.read_text()[-3000:]}")


@pytest.mark.kafka
@pytest.mark.parametrize("scenario", ["minimal", "production"])
def test_rendered_pods_start_against_the_broker(
    scenario: str, image: Image, kafka_bootstrap: str, tmp_path: Path
) -> None:
    values = [chart.CHART / "ci" / f"{scenario}-values.yaml"]
    prefix = f"t{uuid.uuid4().hex[:10]}"
    gateway_port, ops_port, consumer_port = free_port(), free_port(), free_port()
    # Only what a local single-broker cluster and free loopback ports need differs from the scenario.
    sets = [
        f"kafka.bootstrapServers={kafka_bootstrap}",
        f"kafka.topics.prefix={prefix}",
        "kafka.topics.replicationFactor=1",
        "kafka.topics.partitions=2",
        f"gateway.containerPort={gateway_port}",
        f"gateway.opsPort={ops_port}",
        f"consumerDefaults.containerPort={consumer_port}",
    ]
    objects = chart.render(values, sets)
    if scenario == "production":
        # createTopics is false: the topics NOTES lists are all the services need, or they never become ready.
        asyncio.run(create_topics(kafka_bootstrap, notes_topics(notes(values, sets, tmp_path))))
    root = Path(tempfile.mkdtemp(prefix="hookgate-pods-"))
    root.chmod(0o755)
    procs: list[tuple[subprocess.Popen[bytes], Path, str]] = []
    try:
        pods = rendered_pods(objects, root)
        before = snapshot(image.root) | snapshot(root)
        for name, pod in pods.items():
            log = tmp_path / f"{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [*as_image_user(), str(image.bin("hookgate")), *pod.args],
                    env=image.process_env(pod.env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append((proc, log, name))
        for (proc, log, name), pod in zip(procs, pods.values(), strict=True):
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                path, port_name = pod.probes[kind]
                wait_for(f"http://127.0.0.1:{pod.ports[port_name]}{path}", proc, log)
            # /metrics where the probes are (the gateway's ops listener, a consumer's one port).
            assert get(f"http://127.0.0.1:{pod.ports[pod.probes['readinessProbe'][1]]}/metrics") == 200
            assert pod.config is not None
            res = subprocess.run(
                [
                    *as_image_user(),
                    str(image.bin("hookgate")),
                    "check-config",
                    "--kind",
                    kind_of(pod.args),
                    "-c",
                    str(pod.config),
                ],
                env=image.process_env(pod.env),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert res.returncode == 0, f"{name}: {res.stderr}"
        # The helm test pod's script, pointed at the gateway on loopback: /readyz, then one signed request.
        test_pod = chart.of_kind(objects, "Pod")[0]
        script = test_pod["spec"]["containers"][0]["args"][0]
        service = f"http://{chart.RELEASE}-hookgate-gateway.{chart.NAMESPACE}.svc"
        script = script.replace(f"{service}:80", f"http://127.0.0.1:{gateway_port}")
        script = script.replace(f"{service}:{ops_port}", f"http://127.0.0.1:{ops_port}")
        test_env = lay_out_pod(test_pod["spec"], {}, root / "test").env
        res = subprocess.run(
            # As the test's own user: sh execs the venv's python by PATH, and where the base interpreter lives in
            # a directory only root may search (pyenv under /root), that lookup fails for the image uid here.
            ["sh", "-c", script],
            env=image.process_env(test_env),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert "HTTP 202" in res.stdout
        # Read-only root filesystem: nothing was written into the installed image or the mounted volumes.
        created = (snapshot(image.root) | snapshot(root)) - before - snapshot(root / "test") - {str(root / "test")}
        assert not created
    finally:
        for proc, _, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log, name in procs:
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            assert code == 0, f"{name} exited {code} on SIGTERM:\n{log.read_text()[-3000:]}"
        shutil.rmtree(root, ignore_errors=True)
