//! The process's Linux OOM-killer score: `oom-score-adj` and
//! `oom-score-adj-values`, written to `/proc/self/oom_score_adj`.
//!
//! Owns the saved base score and whether Viator has changed it. Must not: parse
//! configuration (the values arrive validated) or decide the process class
//! beyond primary/replica (a forked child asks for [`Class::BgChild`] itself).
//!
//! Mirrors Redis 7.0's `setOOMScoreAdj`: the first time control is enabled
//! the current score is read and kept as the base; `relative` (alias `yes`)
//! adds the class's value to that base, `absolute` writes it as it is, both
//! clamped to -1000..=1000; turning control off writes the base back; while
//! off, nothing is touched.

use std::fs;

use crate::config::{Config, OomScoreAdj};

/// Where the kernel takes the score.
const PROC_FILE: &str = "/proc/self/oom_score_adj";

/// The role whose value of `oom-score-adj-values` applies (their order there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A primary (the first value).
    Primary,
    /// A replica (the second value).
    Replica,
    /// A forked child saving or rewriting (the third value).
    BgChild,
}

impl Class {
    fn index(self) -> usize {
        match self {
            Class::Primary => 0,
            Class::Replica => 1,
            Class::BgChild => 2,
        }
    }
}

/// Whether Viator changed the score, and the score it found before.
#[derive(Debug, Default, Clone, Copy)]
pub struct OomScore {
    /// The score read when control was enabled, if it is enabled now.
    base: Option<i64>,
}

impl OomScore {
    /// Brings the process score in line with `cfg` for `class` (Redis's
    /// `setOOMScoreAdj`). The error is Redis's CONFIG SET reason; the cause
    /// is logged.
    pub fn apply(&mut self, cfg: &Config, class: Class) -> Result<(), &'static str> {
        self.apply_at(cfg, class, PROC_FILE)
    }

    fn apply_at(&mut self, cfg: &Config, class: Class, path: &str) -> Result<(), &'static str> {
        // COMPAT: the CONFIG SET reason Redis gives.
        const FAILED: &str = "Failed to set current oom_score_adj. Check server logs.";
        let value = match (cfg.oom_score_adj, self.base) {
            (OomScoreAdj::No, None) => return Ok(()),
            (OomScoreAdj::No, Some(base)) => {
                self.base = None;
                base
            }
            (mode, base) => {
                let base = match base {
                    Some(b) => b,
                    None => {
                        let read = fs::read_to_string(path).map_err(|e| {
                            log::warn!("Unable to read oom_score_adj: {e}");
                            FAILED
                        })?;
                        let b = read.trim().parse::<i64>().unwrap_or(0);
                        self.base = Some(b);
                        b
                    }
                };
                let v = cfg.oom_score_adj_values[class.index()];
                let v = if mode == OomScoreAdj::Relative { v + base } else { v };
                v.clamp(-1000, 1000)
            }
        };
        fs::write(path, format!("{value}\n")).map_err(|e| {
            log::warn!("Unable to write oom_score_adj: {e}");
            FAILED
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        let mut c = Config::default();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let refs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        c.set(&refs).expect("valid test config");
        c
    }

    #[test]
    fn relative_absolute_and_restore_on_disable() {
        let dir = std::env::temp_dir().join(format!("viator-oom-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let file = dir.join("oom_score_adj");
        let path = file.to_string_lossy().into_owned();
        let read = || fs::read_to_string(&file).unwrap_or_default().trim().to_string();
        fs::write(&file, "22\n").unwrap_or_default();
        let mut st = OomScore::default();
        // Disabled: the file is left alone.
        assert_eq!(st.apply_at(&cfg("oom-score-adj-values 9 9 9"), Class::Primary, &path), Ok(()));
        assert_eq!(read(), "22");
        let rel = cfg("oom-score-adj-values 9 100 2000\noom-score-adj yes");
        assert_eq!(st.apply_at(&rel, Class::Primary, &path), Ok(()));
        assert_eq!(read(), "31");
        assert_eq!(st.apply_at(&rel, Class::Replica, &path), Ok(()));
        assert_eq!(read(), "122");
        assert_eq!(st.apply_at(&rel, Class::BgChild, &path), Ok(()));
        assert_eq!(read(), "1000");
        let abs = cfg("oom-score-adj-values 9 100 -2000\noom-score-adj absolute");
        assert_eq!(st.apply_at(&abs, Class::Primary, &path), Ok(()));
        assert_eq!(read(), "9");
        assert_eq!(st.apply_at(&abs, Class::BgChild, &path), Ok(()));
        assert_eq!(read(), "-1000");
        assert_eq!(st.apply_at(&cfg("oom-score-adj no"), Class::Primary, &path), Ok(()));
        assert_eq!(read(), "22");
        let missing = dir.join("missing/oom_score_adj").to_string_lossy().into_owned();
        let mut fresh = OomScore::default();
        assert!(fresh.apply_at(&rel, Class::Primary, &missing).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
