//! The real valve binary run as hostile input meets it in CI: under a
//! wall-clock timeout and an address-space limit, with its output capped.
//!
//! valve runs as `sh -c 'ulimit -v N; exec …' [time] valve ARGS` in a process
//! group of its own, so a timeout kills valve itself, not just a wrapper,
//! and a run that tries to allocate gigabytes dies of the limit instead of
//! taking the machine down. When GNU time is installed it wraps valve too,
//! giving each run's wall time and peak resident memory for the report.
//!
//! The limit is on address space, not on resident memory, so it has to
//! leave room for what a normal run maps without using: glibc reserves up
//! to 64 MiB per malloc arena (one per core and more), which the harness
//! caps with `MALLOC_ARENA_MAX`, and every worker thread maps its stack
//! (the walker's and rayon's pools each have one thread per `--threads`).
//! The budget is therefore [`HEAP_BUDGET_KIB`] plus [`PER_THREAD_KIB`] a
//! thread: a normal run fits, an allocation of gigabytes does not.

// Each test crate that includes this file uses a part of it.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{hermetic, valve_bin};

/// Address space for everything but thread stacks.
pub(crate) const HEAP_BUDGET_KIB: u64 = 512 * 1024;
/// Two stacks of 2 MiB (walker and rayon pools) a `--threads` worker.
pub(crate) const PER_THREAD_KIB: u64 = 4 * 1024;
/// Every hostile case has to finish within this (debug build, loaded CI).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);
/// Output kept per stream; the rest is counted, not stored, so a run that
/// writes gigabytes cannot exhaust the test process either.
const KEEP_BYTES: usize = 64 << 20;

/// One bounded run of valve, built up then started by [`Run::go`].
pub(crate) struct Run {
    dir: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

/// What became of a run.
pub(crate) struct Outcome {
    pub(crate) args: Vec<OsString>,
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
    pub(crate) timed_out: bool,
    /// The first [`KEEP_BYTES`] of stdout; `stdout_len` counts all of it.
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_len: u64,
    pub(crate) stderr: Vec<u8>,
    pub(crate) secs: f64,
    /// Peak resident set in KiB, when GNU time measured it.
    pub(crate) peak_kib: Option<u64>,
    pub(crate) limit_kib: u64,
}

impl Run {
    pub(crate) fn new<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Self {
        Run {
            dir: dir.to_path_buf(),
            args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
            env: Vec::new(),
            timeout: TIMEOUT,
        }
    }

    pub(crate) fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.into(), value.as_ref().to_os_string()));
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The address-space budget: the heap budget plus every thread's stacks,
    /// for the `--threads` given (when it is one valve should accept, else
    /// one a core), plus one a core.
    fn limit_kib(&self) -> u64 {
        let asked = self
            .args
            .iter()
            .position(|a| a == "--threads")
            .and_then(|i| self.args.get(i + 1))
            .and_then(|n| n.to_str()?.parse::<u64>().ok())
            .filter(|n| (1..=1024).contains(n));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        // gix may start a thread a core of its own, whatever `--threads` says.
        HEAP_BUDGET_KIB + PER_THREAD_KIB * (asked.unwrap_or(cores) + cores)
    }

    pub(crate) fn go(self) -> Outcome {
        let limit_kib = self.limit_kib();
        let stats = tempfile::NamedTempFile::new().expect("stats file");
        let mut cmd = Command::new("sh");
        // 97: the limit could not be set; never run unbounded by mistake.
        cmd.arg("-c").arg(format!(
            "ulimit -v {limit_kib} || exit 97; exec \"$0\" \"$@\""
        ));
        if let Some(time) = gnu_time() {
            cmd.arg(time)
                .arg("-o")
                .arg(stats.path())
                .args(["-f", "%e %M"]);
        }
        cmd.arg(valve_bin()).args(&self.args);
        hermetic(&mut cmd);
        cmd.env("MALLOC_ARENA_MAX", "2")
            .env_remove("RUST_BACKTRACE")
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }

        let start = Instant::now();
        let mut child = cmd.spawn().expect("sh starts");
        let out = drain(child.stdout.take().expect("stdout piped"));
        let err = drain(child.stderr.take().expect("stderr piped"));
        let deadline = start + self.timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                timed_out = true;
                kill_group(child.id());
                break child.wait().expect("wait after kill");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let secs = start.elapsed().as_secs_f64();
        let (stdout, stdout_len) = out.join().expect("stdout reader");
        let (stderr, _) = err.join().expect("stderr reader");

        let mut code = status.code();
        let mut signal = status.signal();
        let mut peak_kib = None;
        if gnu_time().is_some() && !timed_out {
            let text = std::fs::read_to_string(stats.path()).unwrap_or_default();
            for line in text.lines() {
                if let Some(n) = line.strip_prefix("Command terminated by signal ") {
                    signal = n.trim().parse().ok();
                    code = None;
                } else if let Some((_, kib)) = line.split_once(' ')
                    && let Ok(kib) = kib.trim().parse()
                {
                    peak_kib = Some(kib);
                }
            }
        }
        assert_ne!(code, Some(97), "cannot set `ulimit -v {limit_kib}`");
        Outcome {
            args: self.args,
            code,
            signal,
            timed_out,
            stdout,
            stdout_len,
            stderr,
            secs,
            peak_kib,
            limit_kib,
        }
    }
}

impl Outcome {
    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// `exit 2 in 0.03 s, peak 21 MiB` (or what killed it).
    pub(crate) fn describe(&self) -> String {
        let end = if self.timed_out {
            format!("TIMEOUT after {:.1} s", self.secs)
        } else if let Some(sig) = self.signal {
            format!("signal {sig} after {:.2} s", self.secs)
        } else {
            format!(
                "exit {} in {:.2} s",
                self.code.map_or("?".into(), |c| c.to_string()),
                self.secs
            )
        };
        match self.peak_kib {
            Some(kib) => format!("{end}, peak RSS {} KiB", kib),
            None => end,
        }
    }

    /// Why this run broke valve's promise of §9 (exit 0, 1 or 2 only, never
    /// a signal, a timeout or a panic; exit 2 says why), or `None`.
    pub(crate) fn broken(&self) -> Option<String> {
        let err = self.stderr_text();
        let why = if self.timed_out {
            "it did not finish in time".to_string()
        } else if let Some(sig) = self.signal {
            format!(
                "it was killed by signal {sig} (address space limited to {} KiB)",
                self.limit_kib
            )
        } else if !matches!(self.code, Some(0..=2)) {
            format!("exit code {:?} is not 0, 1 or 2", self.code)
        } else if err.contains("panicked") {
            "it panicked".to_string()
        } else if self.code == Some(2) && err.trim().is_empty() {
            "exit 2 without a message on stderr".to_string()
        } else {
            return None;
        };
        Some(format!(
            "valve {:?}: {why} ({})\n--- stderr (first 2000 bytes) ---\n{}",
            self.args,
            self.describe(),
            err.chars().take(2000).collect::<String>()
        ))
    }
}

/// GNU time, when installed (`/usr/bin/time -f` is GNU's).
fn gnu_time() -> Option<&'static Path> {
    static TIME: OnceLock<Option<PathBuf>> = OnceLock::new();
    TIME.get_or_init(|| {
        let path = PathBuf::from("/usr/bin/time");
        let out = Command::new(&path).arg("--version").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        text.contains("GNU").then_some(path)
    })
    .as_deref()
}

/// Kills the process group that `sh` leads: sh, time and valve.
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
}

/// Reads a pipe to its end on a thread: keeps the first bytes, counts all.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<(Vec<u8>, u64)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n as u64;
                    let room = KEEP_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        (kept, total)
    })
}
