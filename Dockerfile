# nanofolks gateway in a container, as in the user guide:
#   docker build -t nanofolks .
#   docker run -it -v ~/.nanofolks:/root/.nanofolks --rm nanofolks onboard
#   docker run -v ~/.nanofolks:/root/.nanofolks -p 18790:18790 nanofolks gateway
# (or `docker compose up -d` with compose.yaml). See docs/docker.md.

# 1. Build every distribution of the repository into a wheelhouse (`nox -s wheels`).
FROM python:3.11-slim AS wheels
WORKDIR /src
RUN pip install --no-cache-dir "nox>=2024.4" "hatchling>=1.21"
COPY . .
RUN nox -s wheels

# 2. Install what a user installs, plus every chat app and team, from that wheelhouse only.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NANOFOLKS_HOME=/root/.nanofolks \
    LITELLM_LOCAL_MODEL_COST_MAP=True
RUN --mount=type=bind,from=wheels,source=/src/dist,target=/wheels \
    pip install --no-cache-dir --find-links /wheels \
        nanofolks nanofolks-telegram nanofolks-discord nanofolks-slack nanofolks-whatsapp \
        nanofolks-team-pirate nanofolks-team-space nanofolks-team-rockband nanofolks-team-executive \
        nanofolks-team-swat nanofolks-team-clowder \
        nanofolks-skill-github nanofolks-skill-summarize nanofolks-skill-weather
VOLUME /root/.nanofolks
EXPOSE 18790
# Healthy while the gateway answers GET /health on its port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18790/health', timeout=4)"
ENTRYPOINT ["nanofolks"]
# Inside a container the gateway listens on every address, so `-p 18790:18790` reaches it.
CMD ["gateway", "--host", "0.0.0.0"]
