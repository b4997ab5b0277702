# runner: the integration daemon, with recipes mounted at /app/recipes and the store on /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RUNNER_HOST=0.0.0.0 \
    RUNNER_PORT=8080 \
    RUNNER_STORE=sqlite:////data/runner.db \
    RUNNER_LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml README.md ./
COPY runner ./runner
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /app runner \
    && mkdir -p /data /app/recipes /app/connections \
    && chown -R runner /data
COPY recipes ./recipes

USER runner
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import os,urllib.request,sys; port=os.environ.get('RUNNER_PORT') or '8080'; sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"

# Exec form, so SIGTERM reaches runner (which drains running jobs) rather than a shell.
ENTRYPOINT ["runner", "serve"]
CMD ["/app/connections", "/app/recipes"]
