"""The synthetic shop: writes the landing zone the lakehouse ingests. See README.md in this folder."""

from generator.run import GenerateResult, generate, generated_days
from generator.world import GeneratorOptions, parse_start_date

__all__ = ["GenerateResult", "GeneratorOptions", "generate", "generated_days", "parse_start_date"]
