#!/usr/bin/env python3
"""Extracts the Turin report and VCEK from Project Oak's test data (Apache-2.0).

project-oak/oak, oak_attestation_verification/testdata/turin_oc_{evidence,endorsements}.binarypb
are protobuf messages (proto/attestation/evidence.proto, endorsement.proto):
  Evidence.root_layer (1) . remote_attestation_report (2)          -> oak-turin-v5-report.bin
  Endorsements.oak_containers (2) . root_layer (1) . tee_certificate (1) -> oak-turin-vcek.der
Usage: oak-extract.py EVIDENCE.binarypb ENDORSEMENTS.binarypb (writes here).
"""
import sys


def varint(b, i):
    value, shift = 0, 0
    while True:
        byte = b[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def field(message, number):
    """The bytes of the first length-delimited field `number` of `message`."""
    i = 0
    while i < len(message):
        key, i = varint(message, i)
        wire = key & 7
        if wire == 0:
            _, i = varint(message, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length, i = varint(message, i)
            if key >> 3 == number:
                return message[i:i + length]
            i += length
        else:
            raise ValueError(f"wire type {wire}")
    raise KeyError(number)


def path(message, *numbers):
    for number in numbers:
        message = field(message, number)
    return message


evidence = open(sys.argv[1], "rb").read()
endorsements = open(sys.argv[2], "rb").read()
report = path(evidence, 1, 2)
assert len(report) == 1184
open("oak-turin-v5-report.bin", "wb").write(report)
open("oak-turin-vcek.der", "wb").write(path(endorsements, 2, 1, 1))
