//! CPU time, as Linux accounts it in `/proc`: of a whole process (this one, or an emulator the
//! benchmark talks to), and of this process's threads of one name (a test server run on a
//! runtime of its own), so a benchmark can tell Berth's cost from its test servers'.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// User and system CPU time of process `pid` (`"self"` for this one) so far.
pub fn process_cpu(pid: &str) -> Option<Duration> {
    stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// User and system CPU time so far of this process's threads named `name` (at most 15 bytes, as
/// the kernel keeps them).
pub fn threads_cpu(name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(|task| stat_cpu(&std::fs::read_to_string(task.path().join("stat")).ok()?))
        .sum()
}

/// utime + stime of a `stat` line: the 14th and 15th fields, in clock ticks, counted after the
/// command name (in parentheses, and it may hold spaces).
fn stat_cpu(stat: &str) -> Option<Duration> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_second(),
    ))
}

/// The kernel's clock ticks per second, asked of `getconf` once.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// This process's CPU time without the threads named `excluded` and without its own, read every
/// few milliseconds on a thread of its own, so the CPU of any stretch of time (a phase of a
/// sweep) can be told afterwards. Resolution: a clock tick (10 ms on most kernels).
pub struct CpuSampler {
    samples: Arc<Mutex<Vec<(Instant, Duration)>>>,
    running: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the sampler reads, and for how long at most (a bound, so it always stops).
const SAMPLE_EVERY: Duration = Duration::from_millis(5);
const SAMPLE_AT_MOST: Duration = Duration::from_secs(600);
/// The sampler's thread, whose reading of `/proc` is no part of what it measures.
const SAMPLER_THREAD: &str = "cpu-sampler";

impl CpuSampler {
    pub fn start(excluded: &'static str) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(AtomicBool::new(true));
        let thread = {
            let (samples, running) = (Arc::clone(&samples), Arc::clone(&running));
            std::thread::Builder::new()
                .name(SAMPLER_THREAD.into())
                .spawn(move || {
                    let started = Instant::now();
                    while running.load(Ordering::Relaxed) && started.elapsed() < SAMPLE_AT_MOST {
                        let own = process_cpu("self")
                            .unwrap_or_default()
                            .saturating_sub(threads_cpu(excluded))
                            .saturating_sub(threads_cpu(SAMPLER_THREAD));
                        if let Ok(mut samples) = samples.lock() {
                            samples.push((Instant::now(), own));
                        }
                        std::thread::sleep(SAMPLE_EVERY);
                    }
                })
        };
        Self {
            samples,
            running,
            thread: thread.ok(),
        }
    }

    /// Stops sampling; returns the samples, oldest first.
    pub fn stop(mut self) -> CpuSamples {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        CpuSamples(self.samples.lock().map(|s| s.clone()).unwrap_or_default())
    }
}

/// What a [`CpuSampler`] read.
pub struct CpuSamples(Vec<(Instant, Duration)>);

impl CpuSamples {
    /// CPU time spent between `from` and `to`, from the nearest samples.
    pub fn between(&self, from: Instant, to: Instant) -> Duration {
        let at = |when: Instant| {
            self.0
                .iter()
                .min_by_key(|(t, _)| if *t > when { *t - when } else { when - *t })
                .map(|(_, cpu)| *cpu)
                .unwrap_or_default()
        };
        at(to).saturating_sub(at(from))
    }
}
