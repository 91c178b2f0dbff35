#!/usr/bin/env python3
# Writes gf256-mul-table.hex: the full 256x256 multiplication table of GF(2^8)
# with the reduction polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), the field
# used by array-manager/erasure/gf256.ts.
#
# Produced independently of the TypeScript code under test: a slow bit-by-bit
# carry-less (polynomial) multiplication followed by long division by 0x11d,
# with no log/exp tables. Line a (0-based) holds the 256 products a*b for
# b = 0..255 as two lowercase hex digits each.
#
# Reproduce: python3 test/vectors/gf256-mul-table.py > test/vectors/gf256-mul-table.hex

POLY = 0x11D


def clmul(a: int, b: int) -> int:
    """Carry-less product of two bytes (a polynomial of degree <= 14)."""
    r = 0
    for i in range(8):
        if (b >> i) & 1:
            r ^= a << i
    return r


def reduce(p: int) -> int:
    """Remainder of the polynomial p modulo POLY."""
    for bit in range(14, 7, -1):
        if (p >> bit) & 1:
            p ^= POLY << (bit - 8)
    return p


for a in range(256):
    print("".join("%02x" % reduce(clmul(a, b)) for b in range(256)))
