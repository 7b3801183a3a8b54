"""Errors a user can fix. The CLI prints them as one line and exits non-zero, never with a traceback."""


class UserError(Exception):
    """A mistake in input, configuration or usage; the message says what is wrong and what to do."""


class PipelineError(Exception):
    """A pipeline step failed; the message names the step and the table."""
