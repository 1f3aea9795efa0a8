"""Prometheus metrics: the cluster exporter (``balancer exporter``, from the store), the
daemon's control-loop metrics (``balancer daemon --metrics-port``), the documented list of
every metric (``catalogue``), the Grafana dashboard and the alert rules (``deploy/``)."""
