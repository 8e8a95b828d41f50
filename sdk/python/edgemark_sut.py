"""edgemark SUT protocol, version 1: the Python side (standard library + numpy).

Wrap any engine as an edgemark system under test::

    import numpy as np
    import edgemark_sut as em

    class Sut(em.Sut):
        name, version = "my-engine", "1.0"

        def describe(self):
            return em.Description(
                model="/path/model.onnx",
                inputs=[em.TensorDesc("input", "f32", (1, 3, 224, 224))],
                outputs=[em.TensorDesc("logits", "f32", (1, 1000))])

        def load(self, index, tensors):   # untimed: prepare what run() needs
            return tensors[0]

        def run(self, sample):            # timed: one inference
            return [self.engine(sample)]  # outputs (only used in accuracy mode)

    em.serve(Sut())

and run it with ``edgemark run --sut exec:python3 my_sut.py``. edgemark starts
the program, talks to it over the descriptors in ``EDGEMARK_SUT_FDS`` (stdout
and stderr stay free for logs) and takes every timestamp itself, as LoadGen
does. docs/sut-protocol.md describes the frames byte by byte.

The query loop reads into one preallocated buffer and answers from
preallocated frames: no text, no buffer allocation per query (the Python
interpreter still creates small ints and tuples). Over the spin transport
(``EDGEMARK_SUT_SHM``) SingleStream queries come through a shared mapping
this module spins on (``mmap`` + ``memoryview``); ``serve`` handles every
transport, the Sut subclass sees no difference.
"""

import mmap
import os
import select
import struct
import sys
import time
import traceback

import numpy as np

MAGIC = b"EDGEMSUT"
VERSION = 1

HELLO, HELLO_REPLY, LOAD, LOAD_ALIAS, UNLOAD, FLUSH, FLUSHED = 1, 2, 3, 4, 5, 6, 7
ISSUE, COMPLETE, OUTPUTS, ERROR, BYE, BYE_REPLY, DOORBELL = 8, 9, 10, 11, 12, 13, 14
HELLO_SPIN = 1  # HELLO flag: the spin transport (attach EDGEMARK_SUT_SHM)
FLAG_OUTPUTS, FLAG_NULL = 1, 2
ERR_VERSION, ERR_MODEL, ERR_BAD_FRAME, ERR_UNKNOWN_SAMPLE, ERR_OTHER = 1, 2, 3, 4, 5

DTYPES = {"f32": 1, "u8": 2, "i8": 3, "i32": 4, "i64": 5, "f16": 6, "f64": 7}
NUMPY = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.int32, 5: np.int64,
         6: np.float16, 7: np.float64}
CODE_OF_NUMPY = {np.dtype(v): k for k, v in NUMPY.items()}

_HDR = struct.Struct("<II")
_U32 = struct.Struct("<I")
_PAIR = struct.Struct("<II")
_ISSUE1 = struct.Struct("<IIII")  # flags, count, id, index
# Offline completions are sent at least this often (and at the end).
COMPLETE_EVERY_NS = 1_000_000

# The spin transport's mapping (docs/sut-protocol.md, "The spin transport").
SHM_MAGIC, SHM_LAYOUT, SHM_SIZE = b"EDGEMSPN", 1, 4096
SEQ_MASK = (1 << 30) - 1
OP_QUERY, OP_NULL, OP_PIPE = 0, 1, 2
# Python has no memory fence: asleep after idling, the SDK also looks at the
# request word this often (s), so a doorbell lost to store reordering costs at
# most this, never a hang (the C SDK fences and needs no such look).
IDLE_RECHECK_S = 0.01
# A 64-bit word read by a 32-bit interpreter may be two loads: read it again.
_TORN = sys.maxsize < 2 ** 32


class ProtocolError(Exception):
    """A frame that is not the protocol; ``code`` is the ERROR code sent back."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class TensorDesc:
    """An input or output as the hello describes it. ``shape`` may use -1 for
    a dynamic dimension (a leading one is read as batch 1); ``quant`` is
    ``(scale, zero_point)`` for quantised integer tensors."""

    def __init__(self, name, dtype, shape, quant=None):
        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r}: expected one of {sorted(DTYPES)}")
        self.name, self.dtype, self.shape, self.quant = name, dtype, tuple(shape), quant

    @staticmethod
    def from_numpy(name, np_dtype, shape, quant=None):
        code = CODE_OF_NUMPY.get(np.dtype(np_dtype))
        if code is None:
            raise ValueError(f"{name}: numpy dtype {np_dtype} has no protocol code")
        name_of = {v: k for k, v in DTYPES.items()}
        return TensorDesc(name, name_of[code], shape, quant)


class Description:
    def __init__(self, model, inputs, outputs):
        self.model, self.inputs, self.outputs = model, list(inputs), list(outputs)


class Sut:
    """Override ``describe``, ``load`` and ``run``; the rest has defaults."""

    name = "python-sut"
    version = "0"

    def describe(self):
        raise NotImplementedError

    def load(self, index, tensors):
        """Untimed. ``tensors``: one numpy array per input. Returns the object
        ``run`` gets for this sample (e.g. a prepared feed dict)."""
        return tensors

    def unload(self, index, sample):
        pass

    def run(self, sample):
        """Timed: run one sample; return its output arrays (edgemark only looks
        at them in accuracy mode) or None."""
        raise NotImplementedError

    def run_batch(self, samples):
        """Offline: the default runs them one by one; yield after each to send
        completions. Override to batch (yield once per finished sample)."""
        for s in samples:
            self.run(s)
            yield


def _desc_bytes(d):
    name = d.name.encode()
    quant = d.quant is not None
    scale, zp = d.quant if quant else (0.0, 0)
    out = struct.pack("<H", len(name)) + name
    out += struct.pack("<BBBBfi", DTYPES[d.dtype], len(d.shape), int(quant), 0, scale, zp)
    out += b"".join(struct.pack("<i", int(x)) for x in d.shape)
    return out


def _str(s):
    b = s.encode()[:65535]
    return struct.pack("<H", len(b)) + b


def _tensor_bytes(a):
    a = np.ascontiguousarray(a)
    code = CODE_OF_NUMPY.get(a.dtype)
    if code is None:
        a = a.astype(np.float32)
        code = 1
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    head = struct.pack("<BBH", code, a.ndim, 0) + b"".join(struct.pack("<I", d) for d in a.shape)
    return head + struct.pack("<Q", a.nbytes) + a.tobytes()


def _read_tensor(buf, pos):
    code, rank, _ = struct.unpack_from("<BBH", buf, pos)
    pos += 4
    if code not in NUMPY:
        raise ProtocolError(ERR_BAD_FRAME, f"unknown dtype code {code}")
    shape = struct.unpack_from(f"<{rank}I", buf, pos)
    pos += 4 * rank
    (n,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    dt = np.dtype(NUMPY[code]).newbyteorder("<")
    want = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if n != want or pos + n > len(buf):
        raise ProtocolError(ERR_BAD_FRAME, f"tensor {shape} has {n} bytes, expected {want}")
    a = np.frombuffer(bytes(buf[pos:pos + n]), dtype=dt).reshape(shape)
    return a, pos + n


class _Channel:
    """Framed reads from one fd into a buffer that only grows for big frames
    (sample loading), writes with os.write."""

    def __init__(self, rfd, wfd):
        self.rfd, self.wfd = rfd, wfd
        self.buf = bytearray(1 << 16)
        self.view = memoryview(self.buf)
        self.start = self.end = 0

    def frame(self):
        """Returns (kind, payload start, payload end) into self.buf; None at EOF."""
        while True:
            avail = self.end - self.start
            if avail >= 8:
                kind, n = _HDR.unpack_from(self.buf, self.start)
                need = 8 + n
                if avail >= need:
                    p = self.start + 8
                    self.start += need
                    if self.start == self.end:
                        self.start = self.end = 0
                    return kind, p, p + n
                if len(self.buf) - self.start < need:
                    self._compact(need)
            elif len(self.buf) - self.start < 8:
                self._compact(8)
            got = os.readv(self.rfd, [self.view[self.end:]])
            if got == 0:
                return None
            self.end += got

    def _compact(self, need):
        data = bytes(self.buf[self.start:self.end])
        if len(self.buf) < need:
            self.buf = bytearray(max(need, 2 * len(self.buf)))
            self.view = memoryview(self.buf)
        self.buf[:len(data)] = data
        self.start, self.end = 0, len(data)

    def send(self, b):
        mv = memoryview(b)
        while mv:
            n = os.write(self.wfd, mv)
            mv = mv[n:]


def _frame(kind, payload=b""):
    return _HDR.pack(kind, len(payload)) + payload


def _fds():
    v = os.environ.get("EDGEMARK_SUT_FDS")
    if not v:
        sys.exit("edgemark_sut: EDGEMARK_SUT_FDS is not set; this program is a SUT for "
                 "`edgemark run --sut exec:...` (or `edgemark sut-check ...`)")
    r, w = (int(x) for x in v.split(","))
    return r, w


def serve(sut, fds=None):
    """Runs the protocol until BYE (exit 0) or a fatal error (ERROR frame, exit 1)."""
    rfd, wfd = fds or _fds()
    ch = _Channel(rfd, wfd)
    try:
        code = _serve(sut, ch)
    except ProtocolError as e:
        print(f"edgemark_sut: {e}", file=sys.stderr)
        _try_send(ch, _frame(ERROR, _U32.pack(e.code) + _str(str(e))))
        code = 1
    except Exception as e:  # the engine failed: say so, then exit
        traceback.print_exc()
        _try_send(ch, _frame(ERROR, _U32.pack(ERR_OTHER) + _str(f"{type(e).__name__}: {e}")))
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _try_send(ch, b):
    try:
        ch.send(b)
    except OSError:
        pass


def _serve(sut, ch):
    f = ch.frame()
    if f is None:
        return 1
    kind, p, e = f
    if kind != HELLO or e - p < 12 or bytes(ch.buf[p:p + 8]) != MAGIC:
        raise ProtocolError(ERR_BAD_FRAME, f"expected HELLO, got frame kind {kind}")
    (version,) = _U32.unpack_from(ch.buf, p + 8)
    if version != VERSION:
        raise ProtocolError(
            ERR_VERSION,
            f"edgemark speaks SUT protocol version {version}, this SUT "
            f"(edgemark_sut.py) speaks version {VERSION}")
    (hello_flags,) = _U32.unpack_from(ch.buf, p + 12) if e - p >= 16 else (0,)
    shm = _Shm() if hello_flags & HELLO_SPIN else None
    try:
        d = sut.describe()
    except Exception as ex:
        traceback.print_exc()
        raise ProtocolError(ERR_MODEL, f"describe failed: {type(ex).__name__}: {ex}")
    body = MAGIC + _U32.pack(VERSION) + _str(sut.name) + _str(str(sut.version)) + _str(d.model)
    body += struct.pack("<HH", len(d.inputs), len(d.outputs))
    body += b"".join(_desc_bytes(x) for x in d.inputs + d.outputs)
    if shm is not None:
        shm.attached[0] = 1  # before the HELLO_REPLY: how edgemark knows
    ch.send(_frame(HELLO_REPLY, body))

    samples = {}
    spinning = False
    complete1 = bytearray(_frame(COMPLETE, struct.pack("<II", 1, 0)))
    offline = bytearray(64)
    buf_unpack = _ISSUE1.unpack_from
    send = ch.send
    while True:
        if spinning:
            spinning = False
            if _spin(sut, shm, samples):
                # Idle, not told: sleep on the pipe, but look again now and
                # then (no fence in Python; see IDLE_RECHECK_S).
                while ch.start == ch.end and not select.select([ch.rfd], [], [], IDLE_RECHECK_S)[0]:
                    if shm.req[0] & SEQ_MASK != shm.last:
                        shm.sleeping[0] = 0
                        spinning = True
                        break
                if spinning:
                    continue
        f = ch.frame()
        if f is None:
            return 1  # edgemark went away
        kind, p, e = f
        buf = ch.buf
        if kind == DOORBELL:
            if shm is None:
                raise ProtocolError(ERR_BAD_FRAME, "DOORBELL without the spin transport")
            # A request waits (a stale doorbell finds none: keep reading).
            if shm.req[0] & SEQ_MASK != shm.last:
                shm.sleeping[0] = 0
                spinning = True
            continue
        if kind == ISSUE:
            flags, count, qid, index = buf_unpack(buf, p)
            if count == 1 and e - p == 16:
                s = samples.get(index)
                if s is None:
                    raise ProtocolError(ERR_UNKNOWN_SAMPLE, f"sample {index} is not loaded")
                if flags & FLAG_NULL:
                    out = None
                else:
                    out = sut.run(s)
                if flags & FLAG_OUTPUTS:
                    send(_outputs_frame(qid, out))
                else:
                    _U32.pack_into(complete1, 12, qid)
                    send(complete1)
                continue
            if e - p != 8 + 8 * count:
                raise ProtocolError(ERR_BAD_FRAME, f"ISSUE of {count} samples has {e - p} bytes")
            pairs = list(_PAIR.iter_unpack(ch.view[p + 8:e]))
            batch = []
            for qid, index in pairs:
                s = samples.get(index)
                if s is None:
                    raise ProtocolError(ERR_UNKNOWN_SAMPLE, f"sample {index} is not loaded")
                batch.append(s)
            if flags & FLAG_OUTPUTS:
                for (qid, _), s in zip(pairs, batch):
                    send(_outputs_frame(qid, None if flags & FLAG_NULL else sut.run(s)))
                continue
            if len(offline) < 8 + 4 * (count + 1):
                offline = bytearray(8 + 4 * (count + 1))
            done = 0
            pending = 0
            last = time.perf_counter_ns()
            it = iter(()) if flags & FLAG_NULL else sut.run_batch(batch)
            for _ in it:
                pending += 1
                now = time.perf_counter_ns()
                if now - last >= COMPLETE_EVERY_NS:
                    _send_ids(send, offline, pairs, done, pending)
                    done += pending
                    pending = 0
                    last = now
            if flags & FLAG_NULL:
                pending = count
            elif done + pending != count:
                raise ProtocolError(ERR_OTHER, f"run_batch finished {done + pending} of {count}")
            if pending:
                _send_ids(send, offline, pairs, done, pending)
        elif kind == LOAD:
            index, n = struct.unpack_from("<II", buf, p)
            pos = p + 8
            tensors = []
            for _ in range(n):
                a, pos = _read_tensor(buf, pos)
                tensors.append(a)
            if pos != e:
                raise ProtocolError(ERR_BAD_FRAME, "LOAD frame has trailing bytes")
            old = samples.pop(index, None)
            if old is not None:
                sut.unload(index, old)
            samples[index] = sut.load(index, tensors)
        elif kind == LOAD_ALIAS:
            index, of = struct.unpack_from("<II", buf, p)
            if of not in samples:
                raise ProtocolError(ERR_UNKNOWN_SAMPLE, f"LOAD_ALIAS of sample {of}, not loaded")
            samples[index] = samples[of]
        elif kind == UNLOAD:
            (n,) = _U32.unpack_from(buf, p)
            for (index,) in struct.iter_unpack("<I", ch.view[p + 4:p + 4 + 4 * n]):
                s = samples.pop(index, None)
                if s is not None:
                    sut.unload(index, s)
        elif kind == FLUSH:
            send(_frame(FLUSHED, bytes(buf[p:p + 4])))
        elif kind == BYE:
            send(_frame(BYE_REPLY))
            return 0
        else:
            raise ProtocolError(ERR_BAD_FRAME, f"unknown frame kind {kind}")


class _Shm:
    """The spin transport's mapping, from the memfd in EDGEMARK_SUT_SHM."""

    def __init__(self):
        v = os.environ.get("EDGEMARK_SUT_SHM")
        if v is None:
            raise ProtocolError(ERR_OTHER, "HELLO asks for the spin transport but "
                                "EDGEMARK_SUT_SHM is not set")
        self.mm = mmap.mmap(int(v), SHM_SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        head = self.mm[:20]
        if head[:8] != SHM_MAGIC or struct.unpack_from("<II", head, 8) != (SHM_LAYOUT, SHM_SIZE):
            raise ProtocolError(ERR_VERSION, "spin transport: the mapping is not EDGEMSPN layout 1 "
                                "(the layout edgemark_sut.py knows)")
        mv = memoryview(self.mm)
        (self.spin_ns,) = struct.unpack_from("<I", head, 16)
        self.spin_ns *= 1000
        self.attached = mv[20:24].cast("I")
        self.req = mv[128:136].cast("Q")
        self.done = mv[256:260].cast("I")
        self.sleeping = mv[260:264].cast("I")
        self.last = 0


def _spin(sut, shm, samples):
    """Answers requests from the mapping until an op PIPE request (returns
    False: read the pipe) or spin_ns without one (returns True: asleep, the
    caller sleeps on the pipe). The loop allocates nothing but the ints the
    interpreter makes."""
    req, done, run, get = shm.req, shm.done, sut.run, samples.get
    spin_ns, now, yield_ = shm.spin_ns, time.perf_counter_ns, os.sched_yield
    spins = range(256)
    lastw = req[0] if req[0] & SEQ_MASK == shm.last else -1
    idle_since = now()
    while True:
        for _ in spins:
            w = req[0]
            if w != lastw:
                break
        else:
            idle = now() - idle_since
            if idle > 50_000:
                yield_()  # an edgemark sharing this core gets it sooner
            if idle < spin_ns:
                continue
            shm.sleeping[0] = 1
            w = req[0]
            if w == lastw:
                return True
            shm.sleeping[0] = 0
        if _TORN:
            w = req[0]
        lastw = w
        seq = w & SEQ_MASK
        shm.last = seq
        op = (w >> 30) & 3
        if op == OP_QUERY:
            s = get(w >> 32)
            if s is None:
                raise ProtocolError(ERR_UNKNOWN_SAMPLE, f"sample {w >> 32} is not loaded")
            run(s)
        elif op == OP_PIPE:
            shm.sleeping[0] = 1
            done[0] = seq
            return False
        elif op != OP_NULL:
            raise ProtocolError(ERR_BAD_FRAME, f"spin transport: unknown request op {op}")
        done[0] = seq
        idle_since = now()


def _send_ids(send, frame, pairs, first, n):
    _HDR.pack_into(frame, 0, COMPLETE, 4 + 4 * n)
    _U32.pack_into(frame, 8, n)
    for i in range(n):
        _U32.pack_into(frame, 12 + 4 * i, pairs[first + i][0])
    send(memoryview(frame)[:12 + 4 * n])


def _outputs_frame(qid, outputs):
    outs = [] if outputs is None else list(outputs)
    body = struct.pack("<II", qid, len(outs)) + b"".join(_tensor_bytes(o) for o in outs)
    return _frame(OUTPUTS, body)
