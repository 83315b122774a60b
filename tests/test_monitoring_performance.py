"""covet.monitoring.PerformanceMonitor: the API reference's metrics-and-traces object."""
import asyncio

from covet import Covet
from covet.monitoring import MetricsManager, PerformanceMonitor, Registry, current_span
from covet.monitoring.backends import PrometheusBackend
from covet.testing import TestClient


def manager():
    return MetricsManager(PrometheusBackend(Registry()))


def samples(monitor):
    body, _ = monitor.metrics.render()
    return body.decode().splitlines()


def test_the_seed_example_records_metrics():
    monitor = PerformanceMonitor(prometheus_endpoint="/metrics", metrics=manager())
    rows = [1, 2, 3]

    @monitor.trace("database_operation")
    async def complex_database_operation():
        async with monitor.timer("query_execution"):
            result = list(rows)
        monitor.counter("database_queries").inc()
        monitor.histogram("result_size").observe(len(result))
        return result

    assert asyncio.run(complex_database_operation()) == [1, 2, 3]
    with monitor.timer("sync_block"):
        pass
    lines = samples(monitor)
    assert "database_queries_total 1.0" in lines
    assert "result_size_count 1.0" in lines and "result_size_sum 3.0" in lines
    assert 'covet_operation_duration_seconds_count{operation="database_operation"} 1.0' in lines
    assert 'covet_timer_duration_seconds_count{name="query_execution"} 1.0' in lines
    assert 'covet_timer_duration_seconds_count{name="sync_block"} 1.0' in lines
    assert monitor.counter("database_queries") is monitor.counter("database_queries")


def test_as_an_integration_it_serves_metrics_and_traces_requests():
    # The collector is unreachable: spans are made (and dropped by the exporter), requests unaffected.
    monitor = PerformanceMonitor(prometheus_endpoint="/_metrics", otlp_endpoint="http://127.0.0.1:9",
                                 service_name="shop", metrics=manager())
    app = Covet()
    app.add_integration(monitor)
    seen = []

    @monitor.trace()
    def lookup(n):
        seen.append(current_span() is not None)
        return n * 2

    @app.get("/items/{n:int}")
    def item(n: int):
        with monitor.timer("render"):
            seen.append(current_span().name)
        return {"double": lookup(n)}

    with TestClient(app) as client:
        assert client.get("/items/4").json() == {"double": 8}
        text = client.get("/_metrics").text
    assert seen == ["render", True]
    assert 'http_requests_total{method="GET",route="/items/{n}",status="200"} 1.0' in text
    assert 'covet_operation_duration_seconds_count{operation="test_as_an_integration_it_serves_metrics_and_' \
           'traces_requests.<locals>.lookup"} 1.0' in text
    monitor.tracing.tracer.shutdown(1)
