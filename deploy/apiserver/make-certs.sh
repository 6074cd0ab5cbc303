#!/bin/sh
# Makes the certificates for the audit webhook's mTLS: two CAs (one signs exectrail's serving
# certificate, one signs the apiserver's client certificate), the serving certificate and the client one.
#
#   deploy/apiserver/make-certs.sh OUT_DIR SAN [SAN...]
#   e.g. deploy/apiserver/make-certs.sh ./exectrail-certs IP:10.96.0.44 DNS:exectrail-webhook.exectrail.svc
#
# OUT_DIR then holds:
#   tls.crt tls.key client-ca.crt            -> Secret exectrail-webhook-tls (the webhook's TLS flags)
#   server-ca.crt apiserver-client.crt/.key  -> /etc/kubernetes/exectrail/ on every control-plane node
#   server-ca.key client-ca.key              -> keep offline: they issue new certificates
# DAYS (default 365) sets the validity.
set -eu
if [ "$#" -lt 2 ]; then
  echo "usage: $0 OUT_DIR SAN [SAN...]   (SAN as IP:10.96.0.44 or DNS:name; the address in the webhook kubeconfig's server)" >&2
  exit 2
fi
out=$1
shift
days=${DAYS:-365}
sans=$(printf '%s,' "$@")
sans=${sans%,}
mkdir -p "$out"
cd "$out"
umask 077
key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
# openssl is chatty on success; show what it said only when it fails.
run() {
  if ! said=$("$@" 2>&1); then
    echo "$said" >&2
    echo "$0: failed: $*" >&2
    exit 1
  fi
}

# shellcheck disable=SC2086
run openssl req -x509 $key -keyout server-ca.key -out server-ca.crt -days "$days" -subj "/CN=exectrail webhook serving CA"
# shellcheck disable=SC2086
run openssl req -x509 $key -keyout client-ca.key -out client-ca.crt -days "$days" -subj "/CN=exectrail webhook client CA"

printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$sans" > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext

# shellcheck disable=SC2086
run openssl req -new $key -keyout tls.key -out tls.csr -subj "/CN=exectrail-webhook"
run openssl x509 -req -in tls.csr -CA server-ca.crt -CAkey server-ca.key -CAcreateserial -days "$days" -extfile server.ext -out tls.crt

# shellcheck disable=SC2086
run openssl req -new $key -keyout apiserver-client.key -out apiserver-client.csr -subj "/CN=kube-apiserver-audit-webhook"
run openssl x509 -req -in apiserver-client.csr -CA client-ca.crt -CAkey client-ca.key -CAcreateserial -days "$days" -extfile client.ext -out apiserver-client.crt

rm -f tls.csr apiserver-client.csr server.ext client.ext server-ca.srl client-ca.srl
chmod 644 tls.crt client-ca.crt server-ca.crt apiserver-client.crt
echo "made in $out: tls.crt tls.key client-ca.crt (Secret exectrail-webhook-tls); server-ca.crt apiserver-client.crt apiserver-client.key (control-plane nodes)"
echo "  kubectl -n exectrail create secret generic exectrail-webhook-tls --from-file=tls.crt=$out/tls.crt --from-file=tls.key=$out/tls.key --from-file=client-ca.crt=$out/client-ca.crt"
