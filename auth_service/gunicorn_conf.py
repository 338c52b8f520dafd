"""Gunicorn settings of the auth service: `gunicorn -c auth_service/gunicorn_conf.py`.

`python -m auth_service serve` runs with these too. From the environment: AUTH_HOST,
AUTH_PORT, WEB_CONCURRENCY and PROMETHEUS_MULTIPROC_DIR (see README, Operations).
"""

from auth_service.config import ADDRESS_PREFIX, DEFAULT_PORT
from shared.metrics import prepare_multiprocess_dir
from shared.serve import gunicorn_settings

settings = gunicorn_settings("auth_service", env_prefix=ADDRESS_PREFIX, default_port=DEFAULT_PORT)
prepare_multiprocess_dir("auth_service")  # before the app is built or a worker forks
globals().update(settings)  # gunicorn reads a config file's module-level names
