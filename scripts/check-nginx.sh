#!/usr/bin/env bash
# `nginx -t` on the deployment kit's nginx config (deploy/nginx/), laid out as the official nginx image lays it
# out for docker-compose (deploy/docker-compose.yml): ferromcp.conf in conf.d/, compose/ as ferromcp/.
# The replicas' service names resolve only inside compose, so the copy checked here points them at 127.0.0.1;
# everything else is checked as written. Runs in a temporary prefix: no root, no port bound, nothing left.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
command -v nginx >/dev/null || { echo "check-nginx: nginx is not installed; \`make nginx\` installs it" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/conf.d" "$work/ferromcp" "$work/logs"
cat > "$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log stderr notice;
events {}
http {
    access_log off;
    client_body_temp_path $work/client_body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    include conf.d/*.conf;
}
CONF
cp "$root/deploy/nginx/ferromcp.conf" "$work/conf.d/"
cp "$root/deploy/nginx/compose/listen.conf" "$work/ferromcp/"
sed -E 's/^( *server +)[A-Za-z0-9.-]+:/\1127.0.0.1:/' "$root/deploy/nginx/compose/upstreams.conf" \
    > "$work/ferromcp/upstreams.conf"
nginx -t -q -p "$work" -c "$work/nginx.conf"
echo "check-nginx: deploy/nginx/ferromcp.conf with compose/ passes nginx -t"
