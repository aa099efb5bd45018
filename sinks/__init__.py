"""Elasticsearch writers: index templates, bulk actions, retry, dead letters."""
