// The root of AWS's Nitro Enclaves attestation PKI for the commercial AWS
// partitions: AWS_NitroEnclaves_Root-G1 (CN=aws.nitro-enclaves, a P-384 key,
// valid 2019-10-28 to 2049-10-28), as AWS publishes it at
// https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip
// ("Verifying the root of trust", AWS Nitro Enclaves User Guide; the
// SHA-256 AWS quotes there, 8cf60e2b...ff7c, is that of the zip file, not of
// the certificate). Every Nitro document carries this certificate as
// cabundle[0]; the verifier trusts it only through its pinned fingerprint.
// test/attestation/nitro.test.ts checks that the PEM below hashes to the
// fingerprint and equals cabundle[0] of every public sample document.

export const awsNitroRootG1Pem = `-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
`;

/** SHA-256 of the root's DER, lowercase hex: what a manifest lists under "roots" for aws-nitro-v1. */
export const awsNitroRootG1Fingerprint = '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b';
