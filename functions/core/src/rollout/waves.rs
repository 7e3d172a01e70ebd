//! Splitting a rollout's tenants into waves: canaries first, then growth steps, then the rest.
//! Steps are cumulative targets (`10%` means "after this wave, a tenth of the tenants"), counts
//! or percentages of the tenants after the canaries, rounded up. Rounding never yields an
//! empty wave (each wave takes at least one tenant) and never a wave past the total.

use serde::{Deserialize, Serialize};

/// One growth step: a cumulative target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// This many tenants in all, after this wave.
    Count(u32),
    /// This percentage (1 to 100) of the tenants, after this wave.
    Percent(u32),
}

/// The steps a rollout takes after its canaries when it names none: 10 %, 50 %, the rest.
pub const DEFAULT_STEPS: [Step; 2] = [Step::Percent(10), Step::Percent(50)];

/// How many tenants the waves after the canaries hold, for `total` tenants and `steps`: the
/// sizes of the waves in order, ending with the rest. Every size is at least 1; they add up to
/// `total`.
pub fn wave_sizes(total: usize, steps: &[Step]) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut done = 0;
    for step in steps {
        if done >= total {
            break;
        }
        let target = match *step {
            Step::Count(n) => n as usize,
            // Rounded up: 10 % of 5 tenants is one tenant, not none.
            Step::Percent(p) => (total * p.min(100) as usize).div_ceil(100),
        };
        let target = target.clamp(done + 1, total);
        sizes.push(target - done);
        done = target;
    }
    if done < total {
        sizes.push(total - done);
    }
    sizes
}

/// Splits `ordered` (canaries excluded, in the order they are to go) into waves by `steps`.
pub fn split<T: Clone>(ordered: &[T], steps: &[Step]) -> Vec<Vec<T>> {
    let mut waves = Vec::new();
    let mut start = 0;
    for size in wave_sizes(ordered.len(), steps) {
        waves.push(ordered[start..start + size].to_vec());
        start += size;
    }
    waves
}

/// How many failed tenants a rollout tolerates after `so_far` tenants: `max(count, percent ×
/// so_far)`, the percentage rounded down (a budget never grows past what was asked).
pub fn failure_allowance(count: u32, percent: u32, so_far: usize) -> usize {
    let by_share = so_far * percent.min(100) as usize / 100;
    (count as usize).max(by_share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_steps_give_ten_then_fifty_percent_then_the_rest() {
        assert_eq!(wave_sizes(40, &DEFAULT_STEPS), [4, 16, 20]);
        assert_eq!(wave_sizes(100, &DEFAULT_STEPS), [10, 40, 50]);
    }

    #[test]
    fn rounding_never_gives_an_empty_wave_nor_one_past_the_total() {
        for total in 0..=60 {
            for steps in [
                &DEFAULT_STEPS[..],
                &[Step::Percent(1), Step::Percent(2), Step::Percent(3)],
                &[
                    Step::Count(0),
                    Step::Count(5),
                    Step::Count(3),
                    Step::Count(500),
                ],
                &[Step::Percent(100), Step::Percent(100)],
                &[],
            ] {
                let sizes = wave_sizes(total, steps);
                assert!(
                    sizes.iter().all(|s| *s >= 1),
                    "{total} {steps:?}: {sizes:?}"
                );
                assert_eq!(sizes.iter().sum::<usize>(), total, "{total} {steps:?}");
            }
        }
        assert_eq!(wave_sizes(3, &DEFAULT_STEPS), [1, 1, 1]);
        assert_eq!(wave_sizes(1, &DEFAULT_STEPS), [1]);
        assert!(wave_sizes(0, &DEFAULT_STEPS).is_empty());
        // Every step is a wave: a target at or below what is done still takes one tenant.
        assert_eq!(wave_sizes(10, &[Step::Count(3), Step::Count(2)]), [3, 1, 6]);
    }

    #[test]
    fn split_keeps_the_order() {
        let tenants: Vec<u32> = (1..=12).collect();
        let waves = split(&tenants, &DEFAULT_STEPS);
        assert_eq!(
            waves,
            vec![vec![1, 2], vec![3, 4, 5, 6], vec![7, 8, 9, 10, 11, 12]]
        );
    }

    #[test]
    fn the_budget_is_the_larger_of_the_count_and_the_share() {
        assert_eq!(failure_allowance(0, 0, 400), 0);
        assert_eq!(failure_allowance(2, 1, 100), 2);
        assert_eq!(failure_allowance(2, 5, 100), 5);
        assert_eq!(failure_allowance(0, 5, 19), 0, "5 % of 19 rounds down");
    }
}
