"""One settings object, read from the environment and an optional `.env` file.

Every knob the lakehouse has lives here, so the embedded default and the docker-compose stack differ only in
environment variables. Secrets (S3 keys) are read from the environment and never written anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

from lakehouse.errors import UserError
from lakehouse.s3 import S3

DEPLOYMENTS = ("embedded", "stack")
DELTA_ENGINES = ("delta-rs", "delta-spark")


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int_env(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a whole number") from None


MB = 1024 * 1024
# A run takes a backlog of landing files in passes of whole landing days up to this many MB (see landing.next_pass).
BACKLOG_PASS_MB = 400


def _megabytes_env(name: str, default: float) -> int:
    """Return a size given in MB (decimals allowed; 0 means no limit) as bytes."""
    raw = _env(name)
    if raw is None:
        return int(default * MB)
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a size in MB (e.g. 400, or 0 for no limit)") from None
    if value < 0:
        raise UserError(f"{name}={raw!r} is negative: give a size in MB, or 0 for no limit")
    return int(value * MB)


# Where the stack's servers answer unless the environment says otherwise (`lakehouse stack up` starts them here).
STACK_S3_ENDPOINT = "http://127.0.0.1:8333"
STACK_TRINO_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Settings:
    """What a run needs to know about where it is: warehouse, engines, Spark, S3 and Trino."""

    deployment: str = "embedded"
    warehouse: str = "./data"
    delta_engine: str = "delta-rs"
    spark_master: str = "local[2]"
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int = 4
    parallel_steps: int = 2
    # The most landing bytes one pass of a run takes (0: everything at once); a longer backlog is taken in passes.
    pass_max_bytes: int = BACKLOG_PASS_MB * MB
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    trino_url: str = STACK_TRINO_URL
    # The stack's own servers keep their data, logs and pid files here; Maven artifacts are cached outside the repo.
    stack_dir: str = ".stack"
    cache_dir: str = str(Path.home() / ".cache" / "lakehouse")

    @property
    def is_stack(self) -> bool:
        return self.deployment == "stack"

    @property
    def is_s3(self) -> bool:
        return self.warehouse.startswith("s3://")

    @property
    def bucket(self) -> str | None:
        """Return the warehouse's bucket (None for a local warehouse)."""
        return self.warehouse[len("s3://") :].split("/", 1)[0] if self.is_s3 else None

    @property
    def s3(self) -> S3:
        return S3(self.s3_endpoint, self.s3_region, self.s3_access_key, self.s3_secret_key)

    def storage_options(self) -> dict[str, str]:
        """Return the object-store options delta-rs needs; empty for a local warehouse."""
        return self.s3.delta_rs() if self.is_s3 else {}


def load_settings(env_file: str | os.PathLike[str] | None = ".env") -> Settings:
    """Return the settings from the environment, after loading `env_file` if it exists (environment wins)."""
    if env_file and Path(env_file).is_file():
        load_dotenv(env_file, override=False)

    deployment = _env("LAKEHOUSE_ENV", "embedded")
    if deployment not in DEPLOYMENTS:
        raise UserError(f"LAKEHOUSE_ENV={deployment!r} is not one of {', '.join(DEPLOYMENTS)}")
    stack = deployment == "stack"
    # The stack writes Delta with Spark itself; the embedded default commits with delta-rs.
    engine = _env("LAKEHOUSE_DELTA_ENGINE", "delta-spark" if stack else "delta-rs")
    if engine not in DELTA_ENGINES:
        raise UserError(f"LAKEHOUSE_DELTA_ENGINE={engine!r} is not one of {', '.join(DELTA_ENGINES)}")

    default_warehouse = "s3://lakehouse/warehouse" if stack else "./data"
    warehouse = _env("LAKEHOUSE_WAREHOUSE", default_warehouse)
    assert warehouse is not None
    if not warehouse.startswith("s3://"):
        warehouse = str(Path(warehouse).expanduser().resolve())

    return Settings(
        deployment=deployment,
        warehouse=warehouse.rstrip("/"),
        delta_engine=engine,
        spark_master=_env("LAKEHOUSE_SPARK_MASTER", "local[2]") or "local[2]",
        spark_driver_memory=_env("LAKEHOUSE_SPARK_DRIVER_MEMORY", "4g") or "4g",
        spark_shuffle_partitions=_int_env("LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS", 4),
        parallel_steps=_int_env("LAKEHOUSE_PARALLEL_STEPS", 2),
        pass_max_bytes=_megabytes_env("LAKEHOUSE_PASS_MAX_MB", BACKLOG_PASS_MB),
        s3_endpoint=_env("AWS_ENDPOINT_URL", STACK_S3_ENDPOINT if stack else None),
        s3_region=_env("AWS_REGION", "us-east-1") or "us-east-1",
        s3_access_key=_env("AWS_ACCESS_KEY_ID"),
        s3_secret_key=_env("AWS_SECRET_ACCESS_KEY"),
        trino_url=(_env("LAKEHOUSE_TRINO_URL", STACK_TRINO_URL) or STACK_TRINO_URL).rstrip("/"),
        stack_dir=str(Path(_env("LAKEHOUSE_STACK_DIR", ".stack") or ".stack").expanduser().resolve()),
        cache_dir=str(Path(_env("LAKEHOUSE_CACHE", Settings.cache_dir) or Settings.cache_dir).expanduser()),
    )
