"""Celery workers: thin tasks that call the service's use cases."""
