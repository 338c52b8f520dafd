#!/bin/sh
# The auth container's entrypoint: make the signing key on the first start, then run the command.
set -eu
# The first file of JWT_PRIVATE_KEY_FILE signs; the others are old keys that must exist already.
key_file="${JWT_PRIVATE_KEY_FILE:-}"
key_file="${key_file%%,*}"
if [ -n "$key_file" ] && [ ! -e "$key_file" ]; then
  python -m auth_service generate-key "$key_file"
fi
exec "$@"
