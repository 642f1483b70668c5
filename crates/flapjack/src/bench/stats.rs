//! Percentiles of samples and the median of runs.

/// p50 / p99 / max of a sample set (exact: the samples are sorted).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `samples` (sorted in place).
    pub fn of<T: Copy + Ord + Into<f64>>(samples: &mut [T]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| -> f64 {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i.min(samples.len() - 1)].into()
        };
        Self {
            count: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// CPU time (user + system, all threads) process `pid` has used so far, seconds, from
/// `/proc/PID/stat` (clock ticks of 1/100 s).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime); `after` starts at field 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds two processes use over a stretch of time.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    server: (u32, Option<f64>),
    tool: Option<f64>,
}

impl CpuMeter {
    /// Starts measuring `server_pid` and this process.
    pub fn start(server_pid: u32) -> Self {
        Self {
            server: (server_pid, cpu_secs(server_pid)),
            tool: cpu_secs(std::process::id()),
        }
    }

    /// (server, tool) CPU seconds since [`start`](Self::start); the server's is `None` when
    /// it runs in this process.
    pub fn stop(&self) -> (Option<f64>, Option<f64>) {
        let (pid, s0) = self.server;
        let tool = self.tool.zip(cpu_secs(std::process::id())).map(|(a, b)| b - a);
        if pid == std::process::id() {
            return (None, tool);
        }
        (s0.zip(cpu_secs(pid)).map(|(a, b)| b - a), tool)
    }
}

/// The 1-minute load average (from `/proc/loadavg`), if readable.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_median() {
        let mut v: Vec<u32> = (1..=100).rev().collect();
        let p = Percentiles::of(&mut v);
        assert_eq!(p.count, 100);
        assert_eq!(p.p50, 51.0);
        assert_eq!(p.p99, 99.0);
        assert_eq!(p.max, 100.0);
        assert_eq!(Percentiles::of::<u32>(&mut []), Percentiles::default());
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
