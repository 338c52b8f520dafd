# Both services from one base: `--target auth` or `--target resource`; `--target web` is the demo
# page's static server (docker-compose.yml builds all three).
# No secret is baked in: the auth service makes its signing and refresh-token keys at first start, in a volume.
FROM python:3.11-slim AS base
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY pyproject.toml /src/
COPY auth_service /src/auth_service
COPY resource_service /src/resource_service
COPY shared /src/shared
# auth_service/static/session-client.js links to the browser client's one copy.
COPY clients/js/session-client.js /src/clients/js/session-client.js
# Installed into site-packages; the sources go so that nothing shadows the installed copy.
RUN pip install --no-cache-dir /src && rm -rf /src
WORKDIR /home/app

FROM base AS auth
# A new named volume mounted on /keys takes this directory's owner and mode, so the
# unprivileged user can write the key there (a bind mount must be chowned to 10001).
RUN mkdir -m 0700 /keys && chown app:app /keys
COPY docker/auth-entrypoint.sh /usr/local/bin/auth-entrypoint
ENV AUTH_HOST=0.0.0.0 AUTH_PORT=8001 JWT_PRIVATE_KEY_FILE=/keys/jwt-key.pem \
    REFRESH_TOKEN_KEY_FILE=/keys/refresh-token.key
USER 10001:10001
EXPOSE 8001
# The slim image has no curl: Python's urllib fails (exit 1) on anything but a 2xx.
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['AUTH_PORT'] + '/healthz', timeout=2)"]
ENTRYPOINT ["auth-entrypoint"]
CMD ["python", "-m", "auth_service", "serve"]

FROM base AS resource
ENV RESOURCE_HOST=0.0.0.0 RESOURCE_PORT=8002
USER 10001:10001
EXPOSE 8002
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['RESOURCE_PORT'] + '/healthz', timeout=2)"]
CMD ["python", "-m", "resource_service", "serve"]

# The demo page: static files and a standard-library server, nothing installed.
FROM python:3.11-slim AS web
COPY web /web
ENV WEB_HOST=0.0.0.0 WEB_PORT=8000
USER 10001:10001
EXPOSE 8000
CMD ["python", "/web/serve.py"]
