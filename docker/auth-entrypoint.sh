#!/bin/sh
# The auth container's entrypoint: make the signing and refresh-token keys on the first start,
# then run the command.
set -eu
# The first file of JWT_PRIVATE_KEY_FILE signs; the others are old keys that must exist already.
key_file="${JWT_PRIVATE_KEY_FILE:-}"
key_file="${key_file%%,*}"
if [ -n "$key_file" ] && [ ! -e "$key_file" ]; then
  python -m auth_service generate-key "$key_file"
fi
# The same for the refresh-token key (REFRESH_TOKEN_KEY_FILE): the first makes new tokens.
refresh_key_file="${REFRESH_TOKEN_KEY_FILE:-}"
refresh_key_file="${refresh_key_file%%,*}"
if [ -n "$refresh_key_file" ] && [ ! -e "$refresh_key_file" ]; then
  python -m auth_service generate-refresh-key "$refresh_key_file"
fi
exec "$@"
