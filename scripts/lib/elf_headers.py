"""Fake static binaries for deploy/ansible/tests/arch.yml: ELF headers only
(64 bytes), which is all the install role reads to tell the targets apart.

    python3 scripts/lib/elf_headers.py DIR
writes DIR/good/TARGET/edgemark for the three release targets and
DIR/wrong/aarch64-unknown-linux-musl/edgemark holding an x86_64 header.
"""
import os
import sys


def header(path, machine, elf_class):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h = bytearray(64)
    # Magic, class (1: 32-bit, 2: 64-bit), little endian, ET_EXEC, e_machine.
    h[:4], h[4], h[5], h[16] = b"\x7fELF", elf_class, 1, 2
    h[18:20] = machine.to_bytes(2, "little")
    with open(path, "wb") as f:
        f.write(h)


d = sys.argv[1]
header(f"{d}/good/x86_64-unknown-linux-musl/edgemark", 62, 2)
header(f"{d}/good/aarch64-unknown-linux-musl/edgemark", 183, 2)
header(f"{d}/good/armv7-unknown-linux-gnueabihf/edgemark", 40, 1)
header(f"{d}/wrong/aarch64-unknown-linux-musl/edgemark", 62, 2)
