# The cluster profile's SIP proxy: the application image (for `hotline cluster proxy`, which renders kamailio.cfg
# from the site and supervises Kamailio) plus Debian's Kamailio 5.6 with the modules kamailio.cfg loads.
# Build context: the repository root (see docker-compose.yml); built after hotline-app:latest.
FROM hotline-app:latest
USER root
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends kamailio \
 && rm -rf /var/lib/apt/lists/*
USER hotline
CMD ["hotline", "cluster", "proxy"]
