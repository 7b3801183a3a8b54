"""The compose stack, checked without a Docker engine: `docker-compose config` validates and resolves the files,
and the tests read what it resolved.

Compose is no Python package: Debian's `docker-compose` (1.29) or a Docker CLI with its compose plugin must be on
PATH. Without either these tests fail, saying what to install; they never skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lakehouse import stack
from lakehouse.cli import cli
from lakehouse.trino import CA_VARIABLE, PIPELINE_USER, password_variable

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "docker-compose.yml"
MINIO = ROOT / "docker-compose.minio.yml"
DOCKERFILE = ROOT / "infra" / "spark" / "Dockerfile"
ARTIFACTS = ROOT / "infra" / "maven-artifacts.txt"
TRINO = ROOT / "infra" / "trino"

# Throwaway keys: the files must take the S3 keys from the environment and from nowhere else.
KEYS = {"AWS_ACCESS_KEY_ID": "throwawaykeyid01", "AWS_SECRET_ACCESS_KEY": "throwaway-secret-0123456789"}
# ... and so must Trino's secrets, which `lakehouse stack init --compose` writes into .env.
TRINO_SECRETS = {
    "LAKEHOUSE_TRINO_SHARED_SECRET": "throwaway-shared-secret",
    "LAKEHOUSE_TRINO_PASSWORD_LAKEHOUSE": "throwaway-password",
}
SERVICES = {"seaweedfs", "bucket", "trino", "pipeline"}
CONSUMERS = ("bucket", "trino", "pipeline")  # every service that talks to S3 as a client
SECRET_NAME = re.compile(r"ACCESS_KEY|SECRET|PASSWORD|TOKEN|ROOT_USER")
REQUIRED_REFERENCE = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")


def _compose_commands() -> list[list[str]]:
    """Return each compose command line on this machine: Debian's docker-compose, the Docker CLI's plugin, or both."""
    found = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        found.append([docker, "compose"])
    return found


@pytest.fixture(scope="module")
def compose(tmp_path_factory):
    """Return a function running `config` on some compose files with every compose command here."""
    commands = _compose_commands()
    if not commands:
        pytest.fail(
            "no docker-compose on PATH: install Debian's (apt-get install -y docker-compose) or Docker's compose "
            "plugin; it only validates the files here, no Docker engine is needed"
        )
    # An empty env file keeps a developer's real .env out; a bare environment keeps their shell's variables out.
    env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    env_file.write_text("")
    bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}

    def run(
        *files: Path, keys: bool = True, trino: bool = True, **variables: str
    ) -> list[subprocess.CompletedProcess[str]]:
        args = ["--env-file", str(env_file), *(a for f in files for a in ("-f", str(f))), "config"]
        env = {**bare, **(KEYS if keys else {}), **(TRINO_SECRETS if trino else {}), **variables}
        return [
            subprocess.run([*c, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            for c in commands
        ]

    return run


def _configs(results: list[subprocess.CompletedProcess[str]]) -> list[dict]:
    for done in results:
        assert done.returncode == 0, f"{' '.join(done.args)} failed:\n{done.stderr}"
    return [yaml.safe_load(done.stdout) for done in results]


@pytest.fixture(scope="module")
def base(compose) -> list[dict]:
    return _configs(compose(BASE))


@pytest.fixture(scope="module")
def with_minio(compose) -> list[dict]:
    return _configs(compose(BASE, MINIO))


def _ports(service: dict) -> list[tuple[str, str, str]]:
    """Return (host address, published, target) of each port, from Compose 1's strings or Compose 2's mappings."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append((port.get("host_ip", ""), str(port.get("published", "")), str(port["target"])))
        else:
            parts = port.split("/")[0].split(":")
            ports.append((":".join(parts[:-2]), parts[-2] if len(parts) > 1 else "", parts[-1]))
    return ports


def _mounts(service: dict) -> list[tuple[str, str, bool]]:
    """Return (source, target, read-only) of each volume, from Compose 1's strings or Compose 2's mappings."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((volume.get("source", ""), volume["target"], bool(volume.get("read_only"))))
        else:
            source, target, *mode = volume.split(":")
            mounts.append((source, target, "ro" in "".join(mode).split(",")))
    return mounts


def _conditions(service: dict) -> dict[str, str]:
    return {name: dep.get("condition", "") for name, dep in service.get("depends_on", {}).items()}


def _bucket_of(warehouse: str) -> str:
    assert warehouse.startswith("s3://"), warehouse
    return warehouse[len("s3://") :].split("/", 1)[0]


def test_base_stack_runs_on_seaweedfs(base):
    for config in base:
        services = config["services"]
        assert set(services) == SERVICES
        assert services["seaweedfs"]["image"] == "chrislusf/seaweedfs:4.48"
        assert services["trino"]["image"] == "trinodb/trino:476"
        command = services["seaweedfs"]["command"]
        assert command[0] == "server" and {"-s3", "-filer", "-s3.port=8333", "-master.telemetry=false"} <= set(command)
        assert {"-s3.port.iceberg=0", "-s3.port.lance=0"} <= set(command)
        for name in ("seaweedfs", *CONSUMERS):
            env = services[name]["environment"]
            assert {k: env.get(k) for k in KEYS} == KEYS, name
        for name in CONSUMERS:
            assert services[name]["environment"]["AWS_ENDPOINT_URL"] == "http://seaweedfs:8333", name


def test_services_start_in_order_of_need(base):
    for config in base:
        services = config["services"]
        healthy, done = "service_healthy", "service_completed_successfully"
        assert _conditions(services["bucket"]) == {"seaweedfs": healthy}
        assert _conditions(services["trino"]) == {"seaweedfs": healthy, "bucket": done}
        assert _conditions(services["pipeline"]) == {"seaweedfs": healthy, "bucket": done, "trino": healthy}
        for name in ("seaweedfs", "trino"):
            assert services[name]["healthcheck"]["test"], name


def test_trino_reads_the_shared_etc_and_the_one_bucket(base):
    for config in base:
        services = config["services"]
        trino = services["trino"]
        assert (str(ROOT / "infra" / "trino" / "etc"), "/etc/trino", True) in _mounts(trino)
        assert "/v1/info" in trino["healthcheck"]["test"][-1] and '"starting"' in trino["healthcheck"]["test"][-1]
        bucket = trino["environment"]["LAKEHOUSE_BUCKET"]
        for name in ("bucket", "pipeline"):
            assert _bucket_of(services[name]["environment"]["LAKEHOUSE_WAREHOUSE"]) == bucket, name
        pipeline = services["pipeline"]["environment"]
        assert pipeline["LAKEHOUSE_TRINO_URL"] == "https://trino:8443"
        assert (
            "lakehouse generate --days 30 --history-months 12 --if-empty && lakehouse run"
            in services["pipeline"]["command"][-1]
        )


def test_trino_gets_every_variable_its_configuration_reads(base, with_minio):
    # Trino refuses to start when a ${ENV:...} in its configuration is unset.
    etc = ROOT / "infra" / "trino" / "etc"
    wanted = {m for f in etc.rglob("*") if f.is_file() for m in re.findall(r"\$\{ENV:(\w+)\}", f.read_text())}
    assert "AWS_ENDPOINT_URL" in wanted, f"no ${{ENV:...}} found under {etc}"
    for config in base + with_minio:
        assert wanted <= set(config["services"]["trino"]["environment"])


def test_ports_are_published_on_loopback_only(base, with_minio):
    for config in base + with_minio:
        for name, service in config["services"].items():
            for address, published, _ in _ports(service):
                assert address == "127.0.0.1", f"{name} publishes {published} on {address or 'every address'}"
    for config in base:
        published = {p for s in config["services"].values() for _, p, _ in _ports(s)}
        assert published == {"8333", "8443"}  # Trino over HTTPS only: its plain HTTP port stays in the network


def test_minio_override_moves_every_consumer_to_minio(with_minio):
    for config in with_minio:
        services = config["services"]
        assert set(services) == SERVICES | {"minio"}
        minio = services["minio"]
        assert minio["image"].startswith("minio/minio:RELEASE.")
        assert minio["environment"]["MINIO_ROOT_USER"] == KEYS["AWS_ACCESS_KEY_ID"]
        assert minio["environment"]["MINIO_ROOT_PASSWORD"] == KEYS["AWS_SECRET_ACCESS_KEY"]
        assert minio["healthcheck"]["test"]
        for name in CONSUMERS:
            assert services[name]["environment"]["AWS_ENDPOINT_URL"] == "http://minio:9000", name
            assert _conditions(services[name])["minio"] == "service_healthy", name


def test_one_variable_points_the_stack_at_another_s3_server(compose):
    endpoint = "http://minio.example.internal:9000"
    for config in _configs(compose(BASE, LAKEHOUSE_COMPOSE_S3_ENDPOINT=endpoint, AWS_REGION="eu-west-1")):
        for name in CONSUMERS:
            env = config["services"][name]["environment"]
            assert (env["AWS_ENDPOINT_URL"], env["AWS_REGION"]) == (endpoint, "eu-west-1"), name


def test_missing_keys_stop_compose_with_the_fix(compose):
    for files in ((BASE,), (BASE, MINIO)):
        for done in compose(*files, keys=False):
            assert done.returncode != 0
            assert "lakehouse stack init" in done.stderr, done.stderr
        for done in compose(*files, trino=False):
            assert done.returncode != 0
            assert "lakehouse stack init --compose" in done.stderr, done.stderr


def _options(command: list[str]) -> dict[str, str]:
    """Return the -D properties of a launcher command line."""
    return dict(arg[2:].split("=", 1) for arg in command if arg.startswith("-D"))


def test_compose_trino_checks_passwords_over_https_with_the_generated_files(base):
    for config in base:
        trino = config["services"]["trino"]
        properties = _options(trino["command"])
        assert trino["command"][0] == "/usr/lib/trino/bin/run-trino"
        assert properties["http-server.authentication.type"] == "PASSWORD"
        assert properties["http-server.https.enabled"] == "true"
        assert [port for _, port, _ in _ports(trino)] == [properties["http-server.https.port"]]
        mounts = {target: (source, read_only) for source, target, read_only in _mounts(trino)}
        assert mounts["/etc/trino-compose"] == (str(TRINO / "compose"), True)
        assert mounts["/etc/trino-secrets"] == (str(ROOT / ".compose" / "trino"), True)
        assert properties["http-server.https.keystore.path"] == "/etc/trino-secrets/trino.pem"
        authenticator = properties["password-authenticator.config-files"]
        assert authenticator.startswith("/etc/trino-compose/")
        overlay = (TRINO / "compose" / Path(authenticator).name).read_text()
        assert "password-authenticator.name=file" in overlay
        assert "file.password-file=/etc/trino-secrets/password.db" in overlay
        # The pipeline logs in as its own user and trusts the CA that signed Trino's certificate, nothing more.
        pipeline = config["services"]["pipeline"]
        env = pipeline["environment"]
        assert env[password_variable(PIPELINE_USER)] == TRINO_SECRETS[password_variable(PIPELINE_USER)]
        assert (str(ROOT / ".compose" / "trino" / "ca.crt"), env[CA_VARIABLE], True) in _mounts(pipeline)
        assert not [m for m in _mounts(pipeline) if "trino.pem" in m[0] or "password.db" in m[0]]


def test_every_user_of_the_access_rules_gets_a_password():
    rules = json.loads((TRINO / "etc" / "access-control.json").read_text())
    named = {
        user for section in rules.values() for rule in section if "user" in rule for user in rule["user"].split("|")
    }
    assert named == set(stack.TRINO_USERS)
    assert PIPELINE_USER in named


def test_init_compose_writes_passwords_certificate_and_password_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Empty counts as unset; set through monkeypatch, whatever the command puts in the environment is undone after.
    for name in ("LAKEHOUSE_ENV", *KEYS, *TRINO_SECRETS, *(password_variable(user) for user in stack.TRINO_USERS)):
        monkeypatch.setenv(name, "")
    first = CliRunner().invoke(cli, ["stack", "init", "--compose"])
    assert first.exit_code == 0, first.output
    env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if line and line[0] != "#")
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0
    passwords = {user: env[password_variable(user)] for user in stack.TRINO_USERS}
    assert env["LAKEHOUSE_TRINO_SHARED_SECRET"] and len(set(passwords.values())) == len(passwords)
    assert not [value for value in env.values() if value in first.output]
    import bcrypt  # the command needs it too, and says so above when it is missing

    made = tmp_path / ".compose" / "trino"
    hashes = dict(line.split(":", 1) for line in (made / "password.db").read_text().splitlines())
    assert set(hashes) == set(stack.TRINO_USERS)
    for user, hashed in hashes.items():
        assert hashed.startswith("$2y$10$")
        assert bcrypt.checkpw(passwords[user].encode(), b"$2b$" + hashed[4:].encode()), user
    checked = subprocess.run(
        ["openssl", "verify", "-CAfile", str(made / "ca.crt"), str(made / "trino.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    names = subprocess.run(
        ["openssl", "x509", "-in", str(made / "trino.pem"), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:trino" in names and "DNS:localhost" in names
    # Again: the passwords and the certificate stay; the password file is written from the same passwords.
    certificate = (made / "trino.pem").read_bytes()
    again = CliRunner().invoke(cli, ["stack", "init", "--compose"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / ".env").read_text().count("LAKEHOUSE_TRINO_PASSWORD_") == len(stack.TRINO_USERS)
    assert (made / "trino.pem").read_bytes() == certificate


def _environments(node):
    """Yield every `environment` mapping in a compose file as written (anchors resolved, nothing interpolated)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "environment" and isinstance(value, dict):
                yield value
            else:
                yield from _environments(value)
    elif isinstance(node, list):
        for item in node:
            yield from _environments(item)


def test_no_credential_is_written_in_the_files():
    for path in (BASE, MINIO):
        raw = yaml.safe_load(path.read_text())
        secrets = {k: v for env in _environments(raw) for k, v in env.items() if SECRET_NAME.search(k)}
        assert secrets, path
        for name, value in secrets.items():
            assert REQUIRED_REFERENCE.match(str(value)), f"{path.name}: {name} is {value!r}, not ${{VAR:?...}}"
    for path in (BASE, MINIO, DOCKERFILE):
        text = path.read_text()
        assert not re.search(r"AKIA[0-9A-Z]{16}|minioadmin", text), path


def test_build_context_leaves_everything_else_out():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    assert patterns[0] == "*"
    assert not [p for p in patterns if p.startswith("!") and ".env" in p]


def _spark_artifacts() -> list[str]:
    coordinates = []
    for line in ARTIFACTS.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[1] == "spark":
            coordinates.append(fields[0])
    return coordinates


def test_spark_image_fetches_exactly_the_spark_artifacts():
    dockerfile = DOCKERFILE.read_text()
    fetched = re.findall(r"-Dartifact=(\S+)", dockerfile)
    assert fetched == _spark_artifacts()
    assert "COPY --from=jars /jars/ /opt/lakehouse/jars/" in dockerfile
    assert re.search(r"LAKEHOUSE_SPARK_JARS_DIR=/opt/lakehouse/jars\b", dockerfile)
    # The project names the jars it loads from this file, so the image carries it too.
    assert "COPY --chown=lakehouse:lakehouse infra/maven-artifacts.txt" in dockerfile


def test_spark_image_installs_with_the_makefiles_uv():
    makefile = (ROOT / "Makefile").read_text()
    wanted = re.search(r"^UV_VERSION := (\S+)$", makefile, flags=re.M)
    pinned = re.search(r"^ARG UV_VERSION=(\S+)$", DOCKERFILE.read_text(), flags=re.M)
    assert wanted and pinned and pinned[1] == wanted[1]
    assert "uv sync --frozen --no-dev" in DOCKERFILE.read_text()
