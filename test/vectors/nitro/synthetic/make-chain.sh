#!/bin/sh
# Generates the synthetic P-384 chain the Nitro verifier tests sign their own
# documents with (test/attestation/nitro-synthetic.ts): a root, two
# intermediates and a leaf, shaped like AWS's (CA certificates with critical
# basic constraints and keyCertSign; an end-entity leaf with digitalSignature).
# Test keys only: they certify nothing outside the tests. Run once; the
# outputs are committed and the root's fingerprint is pinned in the tests.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ext.cnf" <<'CNF'
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
for name in root intermediate1 intermediate2 leaf; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$name.key"
done
openssl req -x509 -new -key root.key -sha384 -days 36500 -subj "/CN=teearray-test.nitro-enclaves" \
  -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out root.pem
issue() { # name issuer-name subject days extension-section
  openssl req -new -key "$1.key" -subj "$3" -out "$tmp/$1.csr"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days "$4" -sha384 -extfile "$tmp/ext.cnf" -extensions "$5" -out "$1.pem"
}
issue intermediate1 root "/CN=test-region.teearray-test.nitro-enclaves" 36000 ca
issue intermediate2 intermediate1 "/CN=test-zone.teearray-test.nitro-enclaves" 35000 ca
issue leaf intermediate2 "/CN=i-00000000000000000-enc0000000000000000.test" 30000 leaf
rm root.key intermediate1.key intermediate2.key # only the leaf signs documents in the tests
