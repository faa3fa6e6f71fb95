# The hotline application image: `hotline` CLI (init, FastAGI server) and the agent desk.
# Build context: the repository root (see docker-compose.yml).
FROM python:3.11-slim

# espeak-ng and sox render the prompts at install (ivr/prompts.py).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng sox \
 && rm -rf /var/lib/apt/lists/*

ARG HOTLINE_UID=10001
RUN groupadd --system --gid "$HOTLINE_UID" hotline \
 && useradd --system --uid "$HOTLINE_UID" --gid hotline --home-dir /var/lib/hotline --shell /usr/sbin/nologin hotline \
 && install -d -o hotline -g hotline -m 0750 /var/lib/hotline

COPY pyproject.toml /tmp/src/
COPY hotline /tmp/src/hotline
COPY agi_scripts /tmp/src/agi_scripts
COPY ivr /tmp/src/ivr
COPY agent_desk /tmp/src/agent_desk
COPY launcher /tmp/src/launcher
RUN pip install --no-cache-dir /tmp/src && rm -rf /tmp/src

COPY asterisk_conf/numbers.yaml /etc/hotline/numbers.yaml
COPY docker/site.compose.yaml /etc/hotline/site.yaml
COPY docker/init.sh /opt/hotline/docker/

ENV HOTLINE_HOME=/var/lib/hotline \
    HOTLINE_PLAN=/etc/hotline/numbers.yaml \
    HOTLINE_SITE=/etc/hotline/site.yaml \
    PYTHONUNBUFFERED=1

WORKDIR /opt/hotline
USER hotline
CMD ["hotline", "--help"]
