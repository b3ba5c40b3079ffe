"""Whether two golden texts differ only in the last printed digit of numbers.

    golden_numbers.py EXPECTED GOT   exit 0 when every line is equal but for
                                     numbers within a relative 1e-3 of each
                                     other (the 4th significant digit a
                                     rounding boundary crossed by another BLAS
                                     kernel's sums); 1 otherwise
"""
import re
import sys

NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def close(a, b):
    x, y = float(a), float(b)
    return abs(x - y) <= 1e-3 * max(abs(x), abs(y))


def lines_match(expected, got):
    if NUMBER.sub("#", expected) != NUMBER.sub("#", got):
        return False
    return all(close(a, b) for a, b in zip(NUMBER.findall(expected), NUMBER.findall(got)))


def main():
    with open(sys.argv[1]) as f:
        expected = f.read().splitlines()
    with open(sys.argv[2]) as f:
        got = f.read().splitlines()
    same = len(expected) == len(got) and all(lines_match(e, g) for e, g in zip(expected, got))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
