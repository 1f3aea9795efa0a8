"""The per-host agent: collects host and VM facts from psutil and libvirt, publishes one
report per interval to Redis (``balancer agent`` / ``balancer-agent``; docs/agent.md).

Pure parsers (``domain_xml``, ``host_caps``, ``storage``, ``domain_stats``,
``guest_cpu``, ``dirty_rate``, ``metadata``) turn libvirt documents into facts;
``host_facts`` and ``collector`` make the libvirt calls; ``runner`` is the loop that
survives libvirt and Redis outages.
"""
