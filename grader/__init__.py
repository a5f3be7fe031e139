"""torchkata's grader: catalog, runner, harness, pytest plugin, reports and the `kata` CLI."""

__version__ = "0.1.0"
