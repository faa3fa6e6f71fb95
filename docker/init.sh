#!/bin/sh
# One-shot init (runs as root on every `docker compose up`, idempotent): secrets, Asterisk config
# and prompts into $HOTLINE_HOME, then each server gets only the files it reads.
set -eu
home="${HOTLINE_HOME:?}"

# The Postgres password: a secret like the others (0600, never overwritten once it exists).
python -c 'from hotline.paths import Paths; from hotline.secrets import SecretStore
SecretStore(Paths.from_env().secrets).ensure(["postgres"])'

hotline install

# Redis and Postgres each get their own password in their own volume (read there as root). Redis also gets its
# ACL users (hotline.access: default, ivr, desk, asr; passwords as SHA-256), read as config on its stdin.
install -m 0400 "$home/secrets/redis" /export/redis/password
python -c 'import sys; from hotline import access; from hotline.paths import Paths; from hotline.secrets import SecretStore
s = SecretStore(Paths.from_env().secrets); sys.stdout.write(access.redis_acl({n: s.get(n) for n in access.REDIS_SECRETS}))' \
  > /export/redis/users.conf.tmp
chmod 0400 /export/redis/users.conf.tmp && mv /export/redis/users.conf.tmp /export/redis/users.conf
install -m 0400 "$home/secrets/postgres" /export/postgres/password

# The app user owns the state; Asterisk (fixed gid from its image) may read its config and prompts.
chown -R hotline:hotline "$home"
chgrp -R "${ASTERISK_GID:?}" "$home/asterisk/etc" "$home/sounds"
chmod -R u=rwX,g=rX,o= "$home/asterisk/etc" "$home/sounds"
echo "[init] ready: $home"
