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


@dataclass(frozen=True)
class Settings:
    """What a run needs to know about where it is: warehouse, engines, Spark and S3."""

    deployment: str = "embedded"
    warehouse: str = "./data"
    delta_engine: str = "delta-rs"
    spark_master: str = "local[2]"
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int = 4
    parallel_steps: int = 2
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    s3_allow_http: bool = True

    @property
    def is_s3(self) -> bool:
        return self.warehouse.startswith("s3://")

    def storage_options(self) -> dict[str, str]:
        """Return the object-store options delta-rs and DuckDB need; empty for a local warehouse."""
        if not self.is_s3:
            return {}
        options = {"AWS_REGION": self.s3_region, "AWS_S3_ALLOW_UNSAFE_RENAME": "false"}
        if self.s3_endpoint:
            options["AWS_ENDPOINT_URL"] = self.s3_endpoint
            options["AWS_ALLOW_HTTP"] = "true" if self.s3_allow_http else "false"
        if self.s3_access_key:
            options["AWS_ACCESS_KEY_ID"] = self.s3_access_key
        if self.s3_secret_key:
            options["AWS_SECRET_ACCESS_KEY"] = self.s3_secret_key
        # MinIO and most S3 stand-ins support conditional put, which delta-rs uses for safe commits.
        options["AWS_CONDITIONAL_PUT"] = "etag"
        return options


def load_settings(env_file: str | os.PathLike[str] | None = ".env") -> Settings:
    """Return the settings from the environment, after loading `env_file` if it exists (environment wins)."""
    if env_file and Path(env_file).is_file():
        load_dotenv(env_file, override=False)

    deployment = _env("LAKEHOUSE_ENV", "embedded")
    if deployment not in DEPLOYMENTS:
        raise UserError(f"LAKEHOUSE_ENV={deployment!r} is not one of {', '.join(DEPLOYMENTS)}")
    engine = _env("LAKEHOUSE_DELTA_ENGINE", "delta-rs")
    if engine not in DELTA_ENGINES:
        raise UserError(f"LAKEHOUSE_DELTA_ENGINE={engine!r} is not one of {', '.join(DELTA_ENGINES)}")

    default_warehouse = "s3://lakehouse/warehouse" if deployment == "stack" else "./data"
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
        s3_endpoint=_env("AWS_ENDPOINT_URL"),
        s3_region=_env("AWS_REGION", "us-east-1") or "us-east-1",
        s3_access_key=_env("AWS_ACCESS_KEY_ID"),
        s3_secret_key=_env("AWS_SECRET_ACCESS_KEY"),
        s3_allow_http=(_env("AWS_ALLOW_HTTP", "true") or "true").lower() == "true",
    )
