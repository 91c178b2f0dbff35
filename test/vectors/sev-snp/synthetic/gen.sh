#!/bin/sh
# Generates the synthetic SEV-SNP chain the tests sign their own reports with:
# an ARK and ASK shaped like AMD's (RSASSA-PSS SHA-384 signatures, the same
# names, CA constraints and key usages) and a VCEK (P-384, AMD's extensions:
# hwID and TCB SPLs, no key usage, no basic constraints). Not AMD's keys: the
# tests pin synthetic-ark.pem's fingerprint, printed below, and nothing else
# trusts it. The ASK expires 30 days after generation, before the VCEK (10
# years), so a test can show an expired ASK refusing a valid VCEK.
# Run from this directory with OpenSSL 3: sh gen.sh. Needs no network.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name() { echo "/OU=Engineering/C=US/L=Santa Clara/ST=CA/O=Advanced Micro Devices/CN=$1"; }
pss="-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384 -sha384"
# The chip: CHIP_ID bytes 0x11 x 64; the TCB: bootloader 3, tee 0, snp 8, microcode 115 (0x73).
chip=$(printf '11%.0s' $(seq 64))
other=$(printf '22%.0s' $(seq 64))
vcek_ext() { # $1 hwID hex, $2 microcode SPL hex byte
  cat <<CONF
[v]
1.3.6.1.4.1.3704.1.1 = DER:02:01:01
1.3.6.1.4.1.3704.1.2 = DER:16:08:4d:69:6c:61:6e:2d:42:30
1.3.6.1.4.1.3704.1.3.1 = DER:02:01:03
1.3.6.1.4.1.3704.1.3.2 = DER:02:01:00
1.3.6.1.4.1.3704.1.3.3 = DER:02:01:08
1.3.6.1.4.1.3704.1.3.8 = DER:02:01:$2
1.3.6.1.4.1.3704.1.4 = DER:$(echo "$1" | sed 's/../&:/g; s/:$//')
CONF
}
cat > "$tmp/ca.conf" <<CONF
[ark]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ask]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CONF
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/ark.key" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/ask.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out synthetic-vcek-key.pem
openssl req -new -x509 -key "$tmp/ark.key" -subj "$(name ARK-Milan)" -days 9000 $pss \
  -config "$tmp/ca.conf" -extensions ark -set_serial 1 -out synthetic-ark.pem
openssl req -new -key "$tmp/ask.key" -subj "$(name SEV-Milan)" -out "$tmp/ask.csr"
openssl x509 -req -in "$tmp/ask.csr" -CA synthetic-ark.pem -CAkey "$tmp/ark.key" -days 30 $pss \
  -extfile "$tmp/ca.conf" -extensions ask -set_serial 2 -out synthetic-ask.pem 2>/dev/null
openssl req -new -key synthetic-vcek-key.pem -subj "$(name SEV-VCEK)" -out "$tmp/vcek.csr"
issue() { # $1 output, $2 hwID, $3 microcode, $4 CSR
  vcek_ext "$2" "$3" > "$tmp/vcek.conf"
  openssl x509 -req -in "${4:-$tmp/vcek.csr}" -CA synthetic-ask.pem -CAkey "$tmp/ask.key" -days 3650 $pss \
    -extfile "$tmp/vcek.conf" -extensions v -set_serial 3 -out "$1" 2>/dev/null
}
issue synthetic-vcek.pem "$chip" 73
issue synthetic-vcek-other-chip.pem "$other" 73  # same key, another chip's hwID
issue synthetic-vcek-other-tcb.pem "$chip" 74    # same key, microcode SPL 116
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256.key"
openssl req -new -key "$tmp/p256.key" -subj "$(name SEV-VCEK)" -out "$tmp/p256.csr"
issue synthetic-vcek-p256.pem "$chip" 73 "$tmp/p256.csr"  # a P-256 key: not a VCEK's curve
echo "synthetic ARK sha256: $(openssl x509 -in synthetic-ark.pem -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
