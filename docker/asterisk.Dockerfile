# Asterisk 22 from Debian sid (Debian 12 ships none). Build context: docker/.
FROM debian:sid

# A fixed uid/gid, created before the package does it, so the init service can give this user
# read access to the generated config in the shared volume (ASTERISK_GID in docker-compose.yml).
ARG ASTERISK_UID=10060
ARG ASTERISK_GID=10060
RUN groupadd --system --gid "$ASTERISK_GID" asterisk \
 && useradd --system --uid "$ASTERISK_UID" --gid asterisk --home-dir /var/lib/asterisk --no-create-home \
        --shell /usr/sbin/nologin --comment "Asterisk PBX daemon" asterisk \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        asterisk asterisk-modules asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm tzdata \
 && rm -rf /var/lib/apt/lists/*

COPY asterisk-entrypoint.sh /usr/local/bin/hotline-asterisk
ENV HOTLINE_INSTANCE_DIR=/srv/hotline/main
ENTRYPOINT ["/usr/local/bin/hotline-asterisk"]
