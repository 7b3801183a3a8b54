"""Plain S3 settings (endpoint, region, path-style, keys) turned into what each consumer of the warehouse needs.

delta-rs, pyarrow, DuckDB's httpfs, Spark's s3a and Trino's native S3 file system each spell the same five facts
differently; this module is the one place that knows how. Any S3 server works: SeaweedFS (the stack's default),
MinIO, or AWS itself (no endpoint).
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

import pyarrow.fs as pafs


@cache
def _finalize_at_exit() -> None:
    # The AWS SDK inside pyarrow aborts the interpreter at exit (exit code 134) unless it is shut down first.
    atexit.register(pafs.finalize_s3)


@dataclass(frozen=True)
class S3:
    """Where an S3 service is and how to sign requests to it. Keys come from the environment, never from files."""

    endpoint: str | None = None  # e.g. http://127.0.0.1:8333; None means AWS itself
    region: str = "us-east-1"
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    path_style: bool = True

    @property
    def secure(self) -> bool:
        """Return whether requests go over HTTPS (an endpoint given as http:// does not)."""
        return not (self.endpoint or "").startswith("http://")

    @property
    def host_port(self) -> str | None:
        """Return the endpoint without its scheme (`127.0.0.1:8333`), or None for AWS."""
        return urlsplit(self.endpoint).netloc or None if self.endpoint else None

    def delta_rs(self) -> dict[str, str]:
        """Return delta-rs (object_store) storage options."""
        options = {"AWS_REGION": self.region, "AWS_S3_ALLOW_UNSAFE_RENAME": "false"}
        if self.endpoint:
            options["AWS_ENDPOINT_URL"] = self.endpoint
            options["AWS_ALLOW_HTTP"] = "false" if self.secure else "true"
            options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false" if self.path_style else "true"
        if self.access_key:
            options["AWS_ACCESS_KEY_ID"] = self.access_key
        if self.secret_key:
            options["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        # Commits are conditional puts (If-None-Match), so two writers can never both take one log version.
        options["AWS_CONDITIONAL_PUT"] = "etag"
        # A server that is down fails a call within seconds instead of after object_store's 3 minutes of retries.
        options["max_retries"] = "3"
        options["retry_timeout"] = "20s"
        return options

    def pyarrow(self) -> pafs.S3FileSystem:
        """Return a pyarrow filesystem for the landing zone and other plain files."""
        _finalize_at_exit()
        return pafs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            endpoint_override=self.host_port,
            scheme="https" if self.secure else "http",
            force_virtual_addressing=not self.path_style,
            allow_bucket_creation=True,
        )

    def duckdb_secret(self, name: str = "lakehouse_s3") -> str:
        """Return the DuckDB statement that lets httpfs (and the delta extension) read the bucket."""
        parts = [
            "type s3",
            f"region '{self.region}'",
            f"url_style '{'path' if self.path_style else 'vhost'}'",
            f"use_ssl {'true' if self.secure else 'false'}",
        ]
        if self.host_port:
            parts.append(f"endpoint '{self.host_port}'")
        if self.access_key:
            parts.append(f"key_id '{self.access_key}'")
        if self.secret_key:
            parts.append(f"secret '{self.secret_key}'")
        return f"create or replace secret {name} ({', '.join(parts)})"

    def spark(self) -> dict[str, str]:
        """Return the Spark configuration of Hadoop's s3a file system (Spark names the bucket s3a://)."""
        prefix = "spark.hadoop.fs.s3a."
        conf = {
            f"{prefix}path.style.access": str(self.path_style).lower(),
            f"{prefix}endpoint.region": self.region,
            f"{prefix}connection.ssl.enabled": str(self.secure).lower(),
            # Delta writes its log itself (one writer per table); s3a's own checks of "directory" markers only
            # cost requests.
            f"{prefix}directory.marker.retention": "keep",
            # An unreachable server fails a call within seconds, not after minutes of retries with back-off
            # (Hadoop's 7 retries × the SDK's own attempts).
            f"{prefix}retry.limit": "2",
            f"{prefix}retry.interval": "500ms",
            f"{prefix}attempts.maximum": "2",
            f"{prefix}connection.establish.timeout": "5s",
        }
        if self.endpoint:
            conf[f"{prefix}endpoint"] = self.endpoint
        if self.access_key and self.secret_key:
            conf[f"{prefix}aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
            conf[f"{prefix}access.key"] = self.access_key
            conf[f"{prefix}secret.key"] = self.secret_key
        return conf

    def environment(self) -> dict[str, str]:
        """Return the standard AWS environment variables (what Trino's catalog file and the compose services read)."""
        env = {"AWS_REGION": self.region}
        if self.endpoint:
            env["AWS_ENDPOINT_URL"] = self.endpoint
        if self.access_key:
            env["AWS_ACCESS_KEY_ID"] = self.access_key
        if self.secret_key:
            env["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        return env
