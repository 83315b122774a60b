"""covet.monitoring: health checks (``covet.monitoring.health``)."""
from .health import HealthChecker

__all__ = ["HealthChecker"]
