//! The attempts at landing one request, shared by the backends: a bounded number, with growing,
//! jittered waits between them so writers that lost a race do not collide again at once, and a
//! bound on consecutive failures to reach the remote.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

use std::future::Future;

use crate::{CommitError, CommitOutcome, GitError};

/// Consecutive failures to reach the remote tolerated before a request fails.
const MAX_UNREACHED: u32 = 4;

/// How one attempt at landing a request ended.
pub(crate) enum Tried {
    Done(CommitOutcome),
    /// Another writer moved the branch first (`reason` says how): plan again on the new tip.
    LostRace(String),
    /// The remote could not be reached.
    Unreached(GitError),
}

pub(crate) struct Attempts {
    delays: ExponentialBackoff,
    /// Attempts made so far, the current one included.
    pub made: u32,
    unreached: u32,
    /// Where lost races are counted, if anywhere.
    gauges: Option<std::sync::Arc<crate::gauges::CommitterGauges>>,
}

impl Attempts {
    /// Runs `attempt` until `request_id` lands, giving up when the remote stays unreached past
    /// the bound or no attempt is left, waiting between two.
    pub async fn land<Fut>(
        mut self,
        request_id: &str,
        mut attempt: impl FnMut() -> Fut,
    ) -> Result<CommitOutcome, CommitError>
    where
        Fut: Future<Output = Result<Tried, CommitError>>,
    {
        loop {
            match attempt().await? {
                Tried::Done(outcome) => return Ok(outcome),
                Tried::LostRace(reason) => {
                    tracing::info!(request_id, attempts = self.made, %reason, "the branch moved; planning again on the new tip");
                    self.lost_race();
                }
                Tried::Unreached(error) => {
                    tracing::warn!(request_id, attempts = self.made, %error, "the remote could not be reached");
                    self.unreached(error)?;
                }
            }
            self.wait().await?;
        }
    }

    /// At most `max_attempts`, waiting from `min` up to `max` between two.
    pub fn new(max_attempts: u32, min: Duration, max: Duration) -> Self {
        let delays = ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max)
            .with_jitter()
            .with_max_times(max_attempts.max(1) as usize - 1)
            .build();
        Self {
            delays,
            made: 1,
            unreached: 0,
            gauges: None,
        }
    }

    /// Counts each lost race in `gauges`.
    pub fn counted_in(mut self, gauges: &std::sync::Arc<crate::gauges::CommitterGauges>) -> Self {
        self.gauges = Some(std::sync::Arc::clone(gauges));
        self
    }

    /// The attempt lost a race: the remote was reached.
    pub fn lost_race(&mut self) {
        self.unreached = 0;
        if let Some(gauges) = &self.gauges {
            gauges.lost_race();
        }
    }

    /// The attempt could not reach the remote: fails with `error` past the bound.
    pub fn unreached(&mut self, error: GitError) -> Result<(), GitError> {
        self.unreached += 1;
        if self.unreached >= MAX_UNREACHED {
            return Err(error);
        }
        Ok(())
    }

    /// Waits before the next attempt, or fails when none is left: the branch kept moving.
    pub async fn wait(&mut self) -> Result<(), GitError> {
        match self.delays.next() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                self.made += 1;
                Ok(())
            }
            None => Err(GitError::Contention {
                attempts: self.made,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_request_gets_its_attempts_with_growing_waits_then_reports_contention() {
        let mut attempts = Attempts::new(3, Duration::from_millis(100), Duration::from_secs(1));
        let started = tokio::time::Instant::now();
        attempts.wait().await.unwrap();
        attempts.wait().await.unwrap();
        assert_eq!(attempts.made, 3);
        let Err(GitError::Contention { attempts: made }) = attempts.wait().await else {
            panic!("no fourth attempt")
        };
        assert_eq!(made, 3);
        // Two waits of 100 ms and 200 ms, each with up to as much again of jitter.
        let waited = started.elapsed();
        assert!(
            (Duration::from_millis(300)..=Duration::from_millis(600)).contains(&waited),
            "{waited:?}"
        );
    }

    #[test]
    fn the_remote_unreached_four_times_in_a_row_fails_the_request() {
        let mut attempts = Attempts::new(25, Duration::from_millis(1), Duration::from_millis(1));
        for _ in 0..3 {
            attempts
                .unreached(GitError::Transport("down".into()))
                .unwrap();
        }
        attempts.lost_race();
        for _ in 0..3 {
            attempts
                .unreached(GitError::Transport("down".into()))
                .unwrap();
        }
        assert!(matches!(
            attempts.unreached(GitError::Transport("down".into())),
            Err(GitError::Transport(_))
        ));
    }
}
