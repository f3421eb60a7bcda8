"""The MQTT sink: results to a broker, with a durable outbox while it is away.

- ``client``: the sink, wiring the parts below;
- ``connection``: the paho client, its state, availability and failures;
- ``pump``: the outbox thread and the in-flight window;
- ``commands``: ``<prefix>/set``;
- ``stats``: ``<prefix>/stats``;
- ``outbox``: the SQLite queue that keeps results across broker outages and restarts;
- ``homeassistant``: MQTT discovery for Home Assistant, and the live label state.
"""
