#!/usr/bin/env python3
"""A SUT that misbehaves on purpose, for edgemark's fault tests and CI:
after N good queries it crashes, exits, hangs, writes garbage or completes
an id that was never issued.

    edgemark run --sut exec:python3 examples/sut/faulty_sut.py crash --after 5
"""
import argparse
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))
import edgemark_sut as em  # noqa: E402


class FaultySut(em.Sut):
    name, version = "faulty", em.VERSION

    def __init__(self, fault, after):
        self.fault, self.after, self.n = fault, after, 0
        self.wfd = int(os.environ["EDGEMARK_SUT_FDS"].split(",")[1])

    def describe(self):
        return em.Description(model="null", inputs=[em.TensorDesc("x", "f32", (1, 4))],
                              outputs=[em.TensorDesc("y", "f32", (1, 4))])

    def run(self, sample):
        self.n += 1
        if self.n <= self.after:
            return None
        print(f"faulty_sut: query {self.n}: now doing '{self.fault}'", file=sys.stderr, flush=True)
        if self.fault == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif self.fault == "exit":
            os._exit(3)
        elif self.fault == "hang":
            while True:
                time.sleep(1)
        elif self.fault == "garbage":
            os.write(self.wfd, b"hello from a print() that went to the wrong place\n")
            time.sleep(60)
        elif self.fault == "unknown-id":
            os.write(self.wfd, struct.pack("<IIII", em.COMPLETE, 8, 1, 4242))
            time.sleep(60)
        elif self.fault == "error":
            raise RuntimeError("the engine ran out of device memory (simulated)")
        return None


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("fault", choices=["crash", "exit", "hang", "garbage", "unknown-id", "error"])
    ap.add_argument("tag", nargs="?", help="ignored: lets a test find this process by its command line")
    ap.add_argument("--after", type=int, default=3, help="good queries before the fault")
    a = ap.parse_args()
    em.serve(FaultySut(a.fault, a.after))
