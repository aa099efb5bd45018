"""``trtlens notify``: deliver alert state changes from ``trtlens.alerts`` to webhooks, Slack and Alertmanager.

One consumer group; offsets commit only after every endpoint of a record
delivered it or it was dead-lettered; a compacted delivery log
(``trtlens.notify.delivered``) and idempotency keys keep restarts and
re-emissions from sending twice. See ``README.md`` in this folder.

* :mod:`.config` — ``NotifySettings`` / ``EndpointConfig`` (``Settings.notify``)
* :mod:`.core` — pure: parse, idempotency key, delivery log, dedup/hysteresis decisions, retry schedule, redaction, DLQ records
* :mod:`.render` — pure: webhook, Slack and Alertmanager v2 bodies
* :mod:`.sender` — the HTTP I/O (aiohttp)
* :mod:`.notifier` — ``Notifier``: the Kafka loop, per-endpoint queues and workers, commits
* :mod:`.cli` — ``trtlens notify``
"""
