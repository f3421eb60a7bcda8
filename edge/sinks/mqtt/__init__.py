"""The MQTT sink: results to a broker, with a durable outbox while it is away.

- ``client``: the sink (paho client, outbox pump, commands, stats);
- ``outbox``: the SQLite queue that keeps results across broker outages and restarts;
- ``homeassistant``: MQTT discovery for Home Assistant.
"""
