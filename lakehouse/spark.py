"""The one Spark session a run uses. Starting Spark costs seconds, so every step shares it."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.settings import Settings

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


def _cache_dir() -> Path:
    return Path(os.environ.get("LAKEHOUSE_CACHE") or Path.home() / ".cache" / "lakehouse")


def _archive_key() -> str:
    """Return what a class archive depends on: the JVM, its options and the Spark jars it was recorded with."""
    import hashlib

    import pyspark

    java = shutil.which("java") or "java"
    java_home = os.environ.get("JAVA_HOME") or str(Path(os.path.realpath(java)).parent.parent)
    jars = Path(pyspark.__file__).parent / "jars"
    fingerprint = f"{java_home}|{jars}|{pyspark.__version__}|{_mtime(java_home)}|{JIT_OPTIONS}"
    return f"spark-{pyspark.__version__}-{hashlib.sha1(fingerprint.encode()).hexdigest()[:10]}"


def _mtime(path: str) -> int:
    try:
        return int(Path(path).stat().st_mtime)
    except OSError:
        return 0


# A JVM writes its class archive while it exits, which can take a while after the Python process has gone; a
# recording is taken as finished once its file has not changed for this long.
RECORDING_SETTLED_SECONDS = 60

# Archives (and recordings) of another JVM, Spark version or set of JVM options go once unused for this long; an
# archive in use is touched by every run that adopts it.
UNUSED_ARCHIVE_SECONDS = 7 * 24 * 3600


def class_archive_options() -> str:
    """Return JVM options that use (or, the first time, record) a class-data archive of Spark's classes.

    Starting Spark spends most of its seconds loading classes; a JDK class-data-sharing archive of them cuts the
    start and the first jobs by about a third. The first run records the archive when its JVM exits (under a
    name of its own, so runs side by side do not clash); the next run adopts it. Set LAKEHOUSE_CLASS_ARCHIVE=off to
    run without.
    """
    if os.environ.get("LAKEHOUSE_CLASS_ARCHIVE", "on").lower() in ("off", "0", "false", "no"):
        return ""
    try:
        directory = _cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"{_archive_key()}.jsa"
        recordings = sorted(directory.glob(f"{final.stem}.*.recording"))
        now = time.time()
        for recorded in recordings:
            settled = now - recorded.stat().st_mtime > RECORDING_SETTLED_SECONDS
            if final.exists() and settled:
                recorded.unlink()  # a second recording made side by side with the first
            elif settled and recorded.stat().st_size > 0:
                os.replace(recorded, final)
        for other in directory.glob("spark-*"):
            if not other.name.startswith(f"{final.stem}.") and now - other.stat().st_mtime > UNUSED_ARCHIVE_SECONDS:
                other.unlink()
        if final.exists():
            os.utime(final)
    except OSError:
        return ""
    quiet = "-Xlog:cds=off -Xlog:cds+dynamic=off"
    if final.exists():
        return f"-XX:SharedArchiveFile={final} {quiet}"
    if recordings:  # another run is recording right now: do not record a second time
        return ""
    return f"-XX:ArchiveClassesAtExit={directory / f'{final.stem}.{os.getpid()}.recording'} {quiet}"


# Compiled-class cache entries: a full run generates ~300 classes and each further day a few dozen new ones.
CODEGEN_CACHE_ENTRIES = 2000

# Memory page of Spark's hash tables and sorters (see get_spark).
BUFFER_PAGE_SIZE = "2m"

# HotSpot options for a driver that runs many short queries on few cores (measured on 2 cores, one more day in a
# warm session: ~25 % less wall time with both). The JIT otherwise spends more CPU compiling Spark's planner and each
# query's generated code than the tasks spend running; four times its default thresholds compiles only what stays
# hot. The parallel collector leaves the cores to the tasks between collections instead of sharing them with
# concurrent marking.
JIT_OPTIONS = "-XX:CompileThresholdScaling=4 -XX:+UseParallelGC"


def jvm_options() -> str:
    """Return the driver JVM's options: the JIT and collector settings, and the class archive (if any)."""
    return f"{JIT_OPTIONS} {class_archive_options()}".strip()


def stack_config(settings: Settings) -> dict[str, str]:
    """Return what Spark needs beyond the defaults for `settings`: s3a for an S3 warehouse, the Delta jars for
    the delta-spark engine (local files from the stack's cache: a run downloads nothing)."""
    conf = settings.s3.spark() if settings.is_s3 else {}
    if settings.delta_engine == "delta-spark":
        from lakehouse.delta_spark import session_config
        from lakehouse.stack.artifacts import spark_jars

        conf.update(session_config(spark_jars(Path(settings.cache_dir))))
    return conf


def use_s3(spark: SparkSession, settings: Settings) -> None:
    """Point a running session's s3a file system at the settings' S3 (a session started for another warehouse)."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in settings.s3.spark().items():
        hadoop.set(key.removeprefix("spark.hadoop."), value)


def get_spark(settings: Settings, app_name: str = "lakehouse") -> SparkSession:
    """Return the active Spark session, creating it from `settings` on first use."""
    active = SparkSession.getActiveSession()
    if active is not None:
        if settings.is_s3:
            use_s3(active, settings)
        return active
    # Python workers must run the interpreter that has this package, also under spark-submit.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.sql.adaptive.enabled", "true")
        # Adaptive execution packs neighbouring shuffle partitions into one task, by default up to half a stage's
        # data (64 MB of shuffle at most): two such tasks at once sort a whole pass's rows in memory. Packing only up
        # to 16 MB leaves a big stage its shuffle partitions, each a share of the pass, while a day's small stages
        # still pack into a task or two (docs/performance.md, "The driver's memory").
        .config("spark.sql.adaptive.advisoryPartitionSizeInBytes", "16m")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # The table layer hands Spark explicit file lists; listing them with a distributed job (Spark's default
        # above 32 paths) costs more than it saves on one machine.
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # With the UI off nobody reads what Spark keeps of finished jobs, stages, tasks and SQL executions (by
        # default the last 1,000 of each and 100,000 tasks, with their plans and metrics): kept, they grow the
        # driver's heap with the length of a run or a watcher's life rather than with what it is doing.
        .config("spark.ui.retainedJobs", "20")
        .config("spark.ui.retainedStages", "20")
        .config("spark.ui.retainedTasks", "1000")
        .config("spark.sql.ui.retainedExecutions", "20")
        # Spark compiles Java for every query; a day's queries are the same shapes each time, so a warm session
        # (`run --watch`) reuses the compiled classes when the cache holds them all (Spark's default keeps 100).
        .config("spark.sql.codegen.cache.maxEntries", str(CODEGEN_CACHE_ENTRIES))
        # A broadcast join's hash table takes whole memory pages and stays on the heap until the driver's copy is
        # garbage-collected; with the default page (32 MB on a 4 GB driver) a day's small joins held ~550 MB, which
        # the collector kept copying. 2 MB pages hold the same tables in ~70 MB (one more day: ~9 % quicker).
        .config("spark.buffer.pageSize", BUFFER_PAGE_SIZE)
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIG} {jvm_options()}")
    )
    for key, value in stack_config(settings).items():
        builder = builder.config(key, value)
    # Under spark-submit the JVM is already running (its gateway port is in the environment) and the master and
    # memory come from the spark-submit command line; only choose them when this process starts Spark itself.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        if settings.spark_master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(settings.spark_master).config("spark.driver.memory", settings.spark_driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
