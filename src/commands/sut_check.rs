//! `edgemark sut-check PROGRAM [ARGS...]`: the SUT protocol's conformance
//! checker. It runs the handshake, loads a few samples (one as an alias),
//! issues SingleStream, Offline, null and accuracy queries, unloads and says
//! goodbye; then, each on a fresh process, the error cases a SUT must refuse
//! (another protocol version, an unknown sample, an unknown frame) and an
//! edgemark that goes away. Every check says what was expected and what came.

use std::time::{Duration, Instant};

use super::{CommandError, CommandResult, ErrorKind};
use crate::cli::SutCheckArgs;
use crate::sut::exec::child::{Child, Transport};
use crate::sut::exec::proto::{self, WireTensor, error_code, flags, kind};
use crate::sut::exec::{self, Fault, spin};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    /// None = passed; else what was wrong.
    pub problem: Option<String>,
    /// What the check saw (shown when it passed too).
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub command: Vec<String>,
    pub checks: Vec<Check>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.problem.is_none())
    }

    pub fn render(&self) -> String {
        let mut s = format!("sut-check: {}\n", self.command.join(" "));
        for c in &self.checks {
            match &c.problem {
                None => s.push_str(&format!("  ok    {}: {}\n", c.name, c.detail)),
                Some(p) => {
                    s.push_str(&format!("  FAIL  {}: {p}\n", c.name));
                    for l in p.lines().skip(1) {
                        s.push_str(&format!("        {l}\n"));
                    }
                }
            }
        }
        let failed = self.checks.iter().filter(|c| c.problem.is_some()).count();
        if failed == 0 {
            s.push_str(&format!("all {} checks passed\n", self.checks.len()));
        } else {
            s.push_str(&format!(
                "{failed} of {} checks failed\n",
                self.checks.len()
            ));
        }
        s
    }
}

/// Why one check failed: the SUT process or transport failed (a [`Fault`]:
/// crashed, hung, broke the framing), or it answered wrongly (what it did).
#[derive(Debug)]
enum StepError {
    Fault(Fault),
    Finding(String),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Fault(fault) => fault.fmt(f),
            StepError::Finding(what) => f.write_str(what),
        }
    }
}

impl From<Fault> for StepError {
    fn from(f: Fault) -> Self {
        StepError::Fault(f)
    }
}

// The checks word their findings with `format!`.
impl From<String> for StepError {
    fn from(what: String) -> Self {
        StepError::Finding(what)
    }
}

type Step<T> = Result<T, StepError>;

fn frame(c: &mut Child) -> Step<(u32, Vec<u8>)> {
    let (k, r) = c.frame()?;
    Ok((k, c.buf()[r].to_vec()))
}

fn expect(c: &mut Child, want: u32) -> Step<Vec<u8>> {
    let (k, p) = frame(c)?;
    if k == kind::ERROR {
        let (code, msg) = exec::read_error(&p);
        return Err(format!(
            "expected {}, the SUT sent ERROR (code {code}): {msg}",
            kind::name(want)
        )
        .into());
    }
    if k != want {
        return Err(format!(
            "expected {}, got frame kind {k} ({}) {}",
            kind::name(want),
            kind::name(k),
            proto::show_bytes(&p)
        )
        .into());
    }
    Ok(p)
}

fn issue_frame(fl: u32, pairs: &[(u32, u32)]) -> Vec<u8> {
    let mut f = Vec::new();
    proto::put_header(&mut f, kind::ISSUE, 8 + 8 * pairs.len());
    proto::put_u32(&mut f, fl);
    proto::put_u32(&mut f, pairs.len() as u32);
    for &(id, ix) in pairs {
        proto::put_u32(&mut f, id);
        proto::put_u32(&mut f, ix);
    }
    f
}

fn load_frame(index: u32, tensors: &[WireTensor]) -> Vec<u8> {
    let mut f = Vec::new();
    proto::put_header(&mut f, kind::LOAD, 0);
    proto::put_u32(&mut f, index);
    proto::put_u32(&mut f, tensors.len() as u32);
    for t in tensors {
        proto::put_tensor(&mut f, t);
    }
    proto::finish_frame(&mut f, 0);
    f
}

/// Collects COMPLETE frames until `n` ids came; checks each id once and known.
fn completions(c: &mut Child, n: usize) -> Step<()> {
    let mut seen = vec![false; n];
    let mut left = n;
    while left > 0 {
        let p = expect(c, kind::COMPLETE)?;
        let mut cur = proto::Cursor::new(&p, "COMPLETE");
        let count = cur.u32("count").map_err(|e| e.0)? as usize;
        if p.len() != 4 + 4 * count {
            return Err(format!("COMPLETE says {count} ids but has {} bytes", p.len()).into());
        }
        if count == 0 || count > left {
            return Err(format!("COMPLETE of {count} ids with {left} outstanding").into());
        }
        for _ in 0..count {
            let id = cur.u32("id").map_err(|e| e.0)? as usize;
            if id >= n || seen[id] {
                return Err(format!(
                    "COMPLETE names id {id}: not issued (ids 0..{n}) or completed twice"
                )
                .into());
            }
            seen[id] = true;
        }
        left -= count;
    }
    Ok(())
}

fn flush(c: &mut Child, token: u32) -> Step<()> {
    let mut f = Vec::new();
    proto::put_header(&mut f, kind::FLUSH, 4);
    proto::put_u32(&mut f, token);
    c.send(&f)?;
    let p = expect(c, kind::FLUSHED)?;
    if p != token.to_le_bytes() {
        return Err(format!(
            "FLUSHED carries {}, expected token {token}",
            proto::show_bytes(&p)
        )
        .into());
    }
    Ok(())
}

/// Sample data for the SUT's inputs (dynamic leading dims as 1).
fn sample(h: &proto::HelloReply, seed: u8) -> Step<Vec<WireTensor>> {
    h.inputs
        .iter()
        .map(|d| {
            let shape = d
                .shape
                .iter()
                .enumerate()
                .map(|(i, &x)| match x {
                    -1 if i == 0 => Ok(1u32),
                    -1 => Err(format!(
                        "input {:?} has a dynamic dimension {i}; only a leading one can be fixed (batch 1)",
                        d.name
                    ).into()),
                    x => Ok(x as u32),
                })
                .collect::<Step<Vec<u32>>>()?;
            let n = shape.iter().map(|&x| x as usize).product::<usize>() * d.dtype.size();
            let bytes = match d.dtype {
                // Small positive values that are valid in every type.
                proto::WireType::F32 => (0..n / 4)
                    .flat_map(|i| (((i % 7) as f32 + seed as f32) / 16.0).to_le_bytes())
                    .collect(),
                proto::WireType::I32 => (0..n / 4)
                    .flat_map(|i| ((i % 3) as i32).to_le_bytes())
                    .collect(),
                proto::WireType::I64 => (0..n / 8)
                    .flat_map(|i| ((i % 3) as i64).to_le_bytes())
                    .collect(),
                proto::WireType::F64 => (0..n / 8)
                    .flat_map(|i| ((i % 7) as f64 / 16.0).to_le_bytes())
                    .collect(),
                _ => (0..n).map(|i| (i as u8 % 5).wrapping_add(seed)).collect(),
            };
            Ok(WireTensor {
                dtype: d.dtype,
                shape,
                bytes,
            })
        })
        .collect()
}

/// Samples 0..3, sample 7 as an alias of 1, then FLUSH.
fn load_samples(c: &mut Child, h: &proto::HelloReply) -> Step<String> {
    for i in 0..3u32 {
        c.send(&load_frame(i, &sample(h, i as u8)?))?;
    }
    let mut alias = Vec::new();
    proto::put_header(&mut alias, kind::LOAD_ALIAS, 8);
    proto::put_u32(&mut alias, 7);
    proto::put_u32(&mut alias, 1);
    c.send(&alias)?;
    flush(c, 4)?;
    Ok("3 samples and 1 alias loaded, FLUSHED 4".to_string())
}

/// One-sample queries, each answered with its own id.
fn single_stream_queries(c: &mut Child) -> Step<String> {
    let t0 = Instant::now();
    for (q, ix) in [0u32, 1, 2, 7, 0].into_iter().enumerate() {
        c.send(&issue_frame(0, &[(q as u32 * 3, ix)]))?;
        let p = expect(c, kind::COMPLETE)?;
        let want: Vec<u8> = [1u32, q as u32 * 3]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        if p != want {
            return Err(format!(
                "query id {} on sample {ix}: expected COMPLETE [1, {}], got {}",
                q * 3,
                q * 3,
                proto::show_bytes(&p)
            )
            .into());
        }
    }
    Ok(format!(
        "5 queries answered with their ids ({:.1} ms)",
        t0.elapsed().as_secs_f64() * 1e3
    ))
}

/// One query of 16 samples, with repeats and the alias.
fn offline_query(c: &mut Child) -> Step<String> {
    let pairs: Vec<(u32, u32)> = (0..16u32)
        .map(|i| (i, [0, 1, 2, 7][i as usize % 4]))
        .collect();
    c.send(&issue_frame(0, &pairs))?;
    completions(c, pairs.len())?;
    Ok("16 samples (repeats and an alias) completed once each".to_string())
}

/// A NULL query: completed without running the model.
fn null_query(c: &mut Child) -> Step<String> {
    c.send(&issue_frame(flags::NULL, &[(5, 2)]))?;
    let p = expect(c, kind::COMPLETE)?;
    if p != [1, 0, 0, 0, 5, 0, 0, 0] {
        return Err(format!("expected COMPLETE [1, 5], got {}", proto::show_bytes(&p)).into());
    }
    Ok("NULL query completed".to_string())
}

/// A query asking for outputs: they must match the hello's description.
fn accuracy_query(c: &mut Child, h: &proto::HelloReply) -> Step<String> {
    c.send(&issue_frame(flags::OUTPUTS, &[(9, 1)]))?;
    let p = expect(c, kind::OUTPUTS)?;
    let mut cur = proto::Cursor::new(&p, "OUTPUTS");
    let id = cur.u32("id").map_err(|e| e.0)?;
    let n = cur.u32("tensor count").map_err(|e| e.0)? as usize;
    if id != 9 {
        return Err(format!("OUTPUTS for id {id}, expected 9").into());
    }
    if n != h.outputs.len() {
        return Err(format!(
            "OUTPUTS has {n} tensors, the hello describes {}",
            h.outputs.len()
        )
        .into());
    }
    let mut shown = Vec::new();
    for d in &h.outputs {
        let t = proto::read_tensor(&mut cur).map_err(|e| e.0)?;
        let fits = t.shape.len() == d.shape.len()
            && t.shape
                .iter()
                .zip(&d.shape)
                .all(|(&a, &b)| b < 0 || a == b as u32);
        if t.dtype != d.dtype || !fits {
            return Err(format!(
                "output {:?} came as {} {:?}, the hello says {} {:?}",
                d.name,
                t.dtype.name(),
                t.shape,
                d.dtype.name(),
                d.shape
            )
            .into());
        }
        shown.push(format!("{} {:?}", t.dtype.name(), t.shape));
    }
    cur.end().map_err(|e| e.0)?;
    Ok(format!("outputs [{}] match the hello", shown.join(", ")))
}

/// UNLOAD samples 1 and 2, then a query on 2: the SUT must refuse it.
fn unload_then_query(c: &mut Child) -> Step<String> {
    let mut f = Vec::new();
    proto::put_header(&mut f, kind::UNLOAD, 8);
    proto::put_u32(&mut f, 1);
    proto::put_u32(&mut f, 2);
    c.send(&f)?;
    flush(c, 5)?;
    // Sample 2 is gone: the SUT must refuse it (and may end).
    c.send(&issue_frame(0, &[(0, 2)]))?;
    let (k, p) = frame(c)?;
    let (code, msg) = exec::read_error(&p);
    if k != kind::ERROR || code != error_code::UNKNOWN_SAMPLE {
        return Err(format!(
            "after UNLOAD of sample 2, a query on it got frame kind {k} ({}), expected ERROR code {}",
            kind::name(k),
            error_code::UNKNOWN_SAMPLE
        ).into());
    }
    Ok(format!("unloaded sample refused: {msg}"))
}

/// One query through the spin transport's mapping; a frame on the pipe
/// instead (an ERROR) is the problem.
fn spin_one(c: &mut Child, op: u64, index: u32) -> Step<()> {
    match c.spin_query(op, index)? {
        None => Ok(()),
        Some((k, r)) => {
            let p = c.buf()[r].to_vec();
            if k == kind::ERROR {
                let (code, msg) = exec::read_error(&p);
                return Err(format!(
                    "spin query on sample {index}: the SUT sent ERROR (code {code}): {msg}"
                )
                .into());
            }
            Err(format!(
                "spin query on sample {index}: frame kind {k} ({}) on the pipe instead of `done` {}",
                kind::name(k),
                proto::show_bytes(&p)
            ).into())
        }
    }
}

/// The spin transport: queries through the mapping, a NULL one, a pipe
/// frame in between (the SUT is told to read the pipe, then rung back), and
/// a query after the SUT fell asleep (idle longer than its spin time).
fn spin_queries(c: &mut Child) -> Step<String> {
    let t0 = Instant::now();
    for ix in [0u32, 1, 2, 7, 0] {
        spin_one(c, spin::op::QUERY, ix)?;
    }
    spin_one(c, spin::op::NULL, 2)?;
    flush(c, 6).map_err(|e| format!("FLUSH between spin queries: {e}"))?;
    spin_one(c, spin::op::QUERY, 1)?;
    let took = t0.elapsed();
    std::thread::sleep(Duration::from_micros(3 * spin::DEFAULT_SPIN_US as u64));
    spin_one(c, spin::op::QUERY, 2).map_err(|e| format!("after the SUT slept: {e}"))?;
    Ok(format!(
        "7 queries through the mapping ({:.1} ms), a FLUSH on the pipe between them, one after the SUT slept",
        took.as_secs_f64() * 1e3
    ))
}

struct Checker {
    command: Vec<String>,
    transport: Transport,
    timeout_ms: u64,
    checks: Vec<Check>,
}

impl Checker {
    fn record(&mut self, name: &'static str, r: Step<String>) -> bool {
        let ok = r.is_ok();
        let (problem, detail) = match r {
            Ok(d) => (None, d),
            Err(e) => (Some(e.to_string()), String::new()),
        };
        self.checks.push(Check {
            name,
            problem,
            detail,
        });
        ok
    }

    fn spawn(&self) -> Step<Child> {
        let mut c = Child::spawn(&self.command, self.transport, false)?;
        c.arm(self.timeout_ms, "sut-check");
        Ok(c)
    }

    /// The session a well-behaved SUT goes through: start and handshake, load
    /// samples, each kind of query, unload; then a fresh one says goodbye.
    fn session(&mut self) {
        let Some((mut c, h)) = self.start() else {
            return;
        };
        if !self.record("load samples", load_samples(&mut c, &h)) {
            return;
        }
        let single = single_stream_queries(&mut c);
        self.record("SingleStream queries", single);
        if self.transport == Transport::Spin {
            self.record("spin queries (shared memory)", spin_queries(&mut c));
        }
        self.record("Offline query", offline_query(&mut c));
        self.record("null query (round trip)", null_query(&mut c));
        let outputs = accuracy_query(&mut c, &h);
        self.record("accuracy query (outputs)", outputs);
        let unload = unload_then_query(&mut c);
        self.record("unload, then a query on it", unload);
        // A SUT that sent ERROR ends; a fresh one says goodbye.
        drop(c);
        let bye = self.bye();
        self.record("bye", bye);
    }

    /// Spawns the SUT and runs the handshake; records what it describes.
    fn start(&mut self) -> Option<(Child, proto::HelloReply)> {
        let mut c = match self.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.record("start", Err(e));
                return None;
            }
        };
        let h = match exec::handshake(&mut c, self.timeout_ms) {
            Ok(h) => h,
            Err(f) => {
                self.record("handshake", Err(StepError::Fault(f)));
                return None;
            }
        };
        c.arm(self.timeout_ms, "sut-check");
        let shapes = |t: &[proto::TensorDesc]| {
            t.iter()
                .map(|d| format!("{} {} {:?}", d.name, d.dtype.name(), d.shape))
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.record(
            "handshake",
            Ok(format!(
                "{} {} (protocol {}), model {:?}; inputs [{}]; outputs [{}]",
                h.name,
                h.sut_version,
                h.version,
                h.model,
                shapes(&h.inputs),
                shapes(&h.outputs)
            )),
        );
        Some((c, h))
    }

    /// A fresh SUT, handshake, BYE: it must reply and exit 0.
    fn bye(&self) -> Step<String> {
        let mut c = self.spawn()?;
        exec::handshake(&mut c, self.timeout_ms)?;
        c.arm(self.timeout_ms, "BYE");
        let mut f = Vec::new();
        proto::put_header(&mut f, kind::BYE, 0);
        c.send(&f)?;
        expect(&mut c, kind::BYE_REPLY)?;
        c.disarm();
        match c.wait_exit(Duration::from_secs(2)) {
            Some(s) if s.success() => Ok("BYE_REPLY, then exit 0".to_string()),
            Some(s) => Err(format!("BYE_REPLY, then {s} (expected exit 0)").into()),
            None => Err(StepError::Finding(
                "BYE_REPLY, but still running 2 s later".into(),
            )),
        }
    }

    /// A fresh SUT gets `bytes` after (or instead of) the hello and must answer
    /// ERROR with `code` and exit.
    fn refuses(
        &mut self,
        name: &'static str,
        hello_first: bool,
        bytes: Vec<u8>,
        code: u32,
        mention: &[&str],
    ) {
        let r = (|| {
            let mut c = self.spawn()?;
            if hello_first {
                exec::handshake(&mut c, self.timeout_ms)?;
                c.arm(self.timeout_ms, name);
            }
            c.send(&bytes)?;
            let (k, p) = frame(&mut c)?;
            if k != kind::ERROR {
                return Err(format!(
                    "expected ERROR (code {code}), got frame kind {k} ({})",
                    kind::name(k)
                )
                .into());
            }
            let (got, msg) = exec::read_error(&p);
            if got != code {
                return Err(format!("expected ERROR code {code}, got code {got}: {msg}").into());
            }
            for m in mention {
                if !msg.contains(m) {
                    return Err(format!("the ERROR message should name {m:?}: {msg:?}").into());
                }
            }
            c.disarm();
            match c.wait_exit(Duration::from_secs(2)) {
                Some(_) => Ok(format!("ERROR {code}: {msg}")),
                None => Err(format!("ERROR {code} ({msg}), but still running 2 s later").into()),
            }
        })();
        self.record(name, r);
    }

    /// A spin query on a sample never loaded: ERROR code 4 on the pipe.
    fn refuses_spin(&mut self) {
        let name = "refuses a spin query on a sample never loaded";
        let r = (|| {
            let mut c = self.spawn()?;
            exec::handshake(&mut c, self.timeout_ms)?;
            c.arm(self.timeout_ms, name);
            match spin_one(&mut c, spin::op::QUERY, 123_456) {
                Ok(()) => Err(StepError::Finding(
                    "completed a query on sample 123456, never loaded".into(),
                )),
                Err(e)
                    if e.to_string().contains("(code 4)") && e.to_string().contains("123456") =>
                {
                    c.disarm();
                    Ok(e.to_string()
                        .replace("spin query on sample 123456: the SUT sent ", ""))
                }
                Err(e) => Err(format!("expected ERROR (code 4) naming 123456: {e}").into()),
            }
        })();
        self.record(name, r);
    }

    fn eof(&mut self) {
        let r = (|| {
            let mut c = self.spawn()?;
            exec::handshake(&mut c, self.timeout_ms)?;
            c.disarm();
            c.shut_write();
            match c.wait_exit(Duration::from_secs(2)) {
                Some(s) => Ok(format!("exited ({s}) when edgemark went away")),
                None => Err(StepError::Finding(
                    "still running 2 s after edgemark closed the channel".into(),
                )),
            }
        })();
        self.record("edgemark goes away", r);
    }
}

/// Runs every check against `command`.
pub fn check(command: &[String], transport: Transport, timeout_ms: u64) -> CheckReport {
    let mut k = Checker {
        command: command.to_vec(),
        transport,
        timeout_ms,
        checks: Vec::new(),
    };
    k.session();
    if k.checks
        .iter()
        .any(|c| c.name == "handshake" && c.problem.is_none())
    {
        let mut v99 = Vec::new();
        proto::put_header(&mut v99, kind::HELLO, 16);
        v99.extend_from_slice(&proto::MAGIC);
        proto::put_u32(&mut v99, 99);
        proto::put_u32(&mut v99, 0);
        k.refuses(
            "refuses protocol version 99",
            false,
            v99,
            error_code::VERSION,
            &["99", &proto::VERSION.to_string()],
        );
        k.refuses(
            "refuses a query on a sample never loaded",
            true,
            issue_frame(0, &[(0, 123_456)]),
            error_code::UNKNOWN_SAMPLE,
            &["123456"],
        );
        let mut unknown = Vec::new();
        proto::put_header(&mut unknown, 200, 0);
        k.refuses(
            "refuses an unknown frame kind",
            true,
            unknown,
            error_code::BAD_FRAME,
            &["200"],
        );
        if transport == Transport::Spin {
            k.refuses_spin();
        }
        k.eof();
    }
    CheckReport {
        command: command.to_vec(),
        checks: k.checks,
    }
}

/// `edgemark sut-check`: run the checks, print them; exit 1 when any failed.
pub fn command(args: &SutCheckArgs) -> CommandResult {
    let Some(transport) = Transport::parse(&args.transport) else {
        return Err(CommandError::usage(format!(
            "--transport: expected pipe, socketpair or spin, got {:?}",
            args.transport
        ))
        .in_command("sut-check"));
    };
    let report = check(&args.command, transport, args.timeout * 1000);
    print!("{}", report.render());
    if report.passed() {
        Ok(())
    } else {
        Err(CommandError::reported(ErrorKind::Runtime))
    }
}
