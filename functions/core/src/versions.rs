//! Chart version ranges as Helm and Argo CD read them: Masterminds semver
//! (github.com/Masterminds/semver v3), not Cargo's. The differences that matter:
//! - a bare `1.2.3` is exactly `=1.2.3` (Cargo reads `^1.2.3`), and a partial `1.2` is `1.2.x`;
//! - AND is a comma or a space, OR is `||`, `1 - 2` is a hyphen range;
//! - `^0.2.3` is `>=0.2.3 <0.3.0`, `~1.2` is `>=1.2.0 <1.3.0`, `1.2.x` / `1.2.*` wildcards;
//! - a prerelease version matches only an AND group that itself names a prerelease
//!   (`>=1.0.0-0`), and then on any major/minor/patch (npm would scope it to one patch).
//!
//! `tests/data/masterminds_ranges.tsv` pins every case of Masterminds' own test tables.

use std::cmp::Ordering;
use std::fmt;

pub use semver::Version;

/// Why a range or a version does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RangeError(String);

/// A Masterminds semver constraint: ORs of ANDs of comparators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRange {
    text: String,
    any_of: Vec<AllOf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllOf {
    comparators: Vec<Comparator>,
    /// One comparator names a prerelease: prereleases may match this group.
    allows_prerelease: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
    /// Some part is a wildcard or missing (`*`, `1`, `1.2.x`).
    dirty: bool,
    /// `1`, `1.x`: the minor is a wildcard.
    minor_dirty: bool,
    /// `1.2`, `1.2.x`: the patch is a wildcard.
    patch_dirty: bool,
}

impl fmt::Display for ChartRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl ChartRange {
    /// Parses a range; an empty one means any released version.
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let any_of = text
            .split("||")
            .map(parse_all_of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            any_of,
        })
    }

    /// Whether `version` is in the range.
    pub fn matches(&self, version: &Version) -> bool {
        self.any_of.iter().any(|group| {
            let prerelease_ok = group.allows_prerelease || version.pre.is_empty();
            prerelease_ok && group.comparators.iter().all(|c| c.matches(version))
        })
    }

    /// The version Helm picks for this range among `versions`: the one spelled exactly as
    /// the range first (as `helm install --version` does), else the highest that matches.
    pub fn pick<'a>(&self, versions: &'a [String]) -> Option<&'a String> {
        if let Some(exact) = versions.iter().find(|v| **v == self.text) {
            return Some(exact);
        }
        versions
            .iter()
            .filter_map(|text| Some((parse_version(text).ok()?, text)))
            .filter(|(v, _)| self.matches(v))
            .max_by(|(a, _), (b, _)| a.cmp_precedence(b))
            .map(|(_, text)| text)
    }
}

/// A chart version as Helm stores it: strict semver 2, with an optional leading `v`.
pub fn parse_version(text: &str) -> Result<Version, RangeError> {
    let bare = text.strip_prefix('v').unwrap_or(text);
    Version::parse(bare).map_err(|e| RangeError(format!("{text:?} is not a semantic version: {e}")))
}

/// Orders versions highest first, by semver precedence (build metadata ignored); text that
/// is not a version goes last.
pub fn sort_highest_first(versions: &mut [String]) {
    versions.sort_by(|a, b| match (parse_version(a), parse_version(b)) {
        (Ok(a), Ok(b)) => b.cmp_precedence(&a),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    });
}

fn parse_all_of(segment: &str) -> Result<AllOf, RangeError> {
    let improper = || RangeError(format!("improper constraint: {:?}", segment.trim()));
    let mut comparators = Vec::new();
    if segment.trim().is_empty() {
        // Masterminds reads an empty constraint as `*`.
        comparators.push(any());
    } else {
        for part in segment.split(',') {
            if part.trim().is_empty() {
                return Err(improper());
            }
            comparators.extend(parse_and_words(part).ok_or_else(improper)?);
        }
    }
    let allows_prerelease = comparators.iter().any(|c| !c.version.pre.is_empty());
    Ok(AllOf {
        comparators,
        allows_prerelease,
    })
}

fn any() -> Comparator {
    Comparator {
        op: Op::TildeOrEqual,
        version: Version::new(0, 0, 0),
        dirty: true,
        minor_dirty: false,
        patch_dirty: false,
    }
}

/// Space-separated comparators, where an operator may stand apart from its version
/// (`>= 1.2`) and `A - B` is a hyphen range.
fn parse_and_words(part: &str) -> Option<Vec<Comparator>> {
    let words: Vec<&str> = part.split_whitespace().collect();
    let mut comparators = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if words.get(i + 1) == Some(&"-") {
            let low = parse_comparator("", words[i])?;
            let high = parse_comparator("", words.get(i + 2)?)?;
            comparators.push(Comparator {
                op: Op::GreaterOrEqual,
                ..low
            });
            comparators.push(Comparator {
                op: Op::LessOrEqual,
                ..high
            });
            i += 3;
            continue;
        }
        let word = words[i];
        let op_len = operator_len(word);
        if op_len == word.len() {
            // A lone operator takes the next word as its version.
            comparators.push(parse_comparator(word, words.get(i + 1)?)?);
            i += 2;
        } else {
            comparators.push(parse_comparator(&word[..op_len], &word[op_len..])?);
            i += 1;
        }
    }
    Some(comparators)
}

fn operator_len(word: &str) -> usize {
    ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"]
        .iter()
        .find(|op| word.starts_with(**op))
        .map_or(0, |op| op.len())
}

fn parse_comparator(op: &str, text: &str) -> Option<Comparator> {
    let op = match op {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterOrEqual,
        "<=" | "=<" => Op::LessOrEqual,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return None,
    };
    let bare = text.strip_prefix('v').unwrap_or(text);
    let (core, build) = match bare.split_once('+') {
        Some((core, build)) => (core, Some(build)),
        None => (bare, None),
    };
    let (numbers, pre) = match core.split_once('-') {
        Some((numbers, pre)) => (numbers, Some(pre)),
        None => (core, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let wild = |p: &str| matches!(p, "x" | "X" | "*");
    let number = |p: &str| -> Option<u64> {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    for p in &parts {
        if !wild(p) && number(p).is_none() {
            return None;
        }
    }
    let major = parts[0];
    let minor = parts.get(1).copied();
    let patch = parts.get(2).copied();
    // The flags Masterminds keeps: a wildcard major marks only `dirty`.
    let (dirty, minor_dirty, patch_dirty, [ma, mi, pa]) = if wild(major) {
        (true, false, false, [0, 0, 0])
    } else if minor.is_none_or(wild) {
        (true, true, false, [number(major)?, 0, 0])
    } else if patch.is_none_or(wild) {
        (true, false, true, [number(major)?, number(minor?)?, 0])
    } else {
        (
            false,
            false,
            false,
            [number(major)?, number(minor?)?, number(patch?)?],
        )
    };
    let mut version = Version::new(ma, mi, pa);
    if let Some(pre) = pre {
        version.pre = semver::Prerelease::new(pre).ok()?;
        if version.pre.is_empty() {
            return None;
        }
    }
    if let Some(build) = build {
        semver::BuildMetadata::new(build)
            .ok()
            .filter(|b| !b.is_empty())?;
    }
    Some(Comparator {
        op,
        version,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

// Each check transcribes Masterminds' function of the same operator.
impl Comparator {
    /// One comparator against a version whose prerelease the group already allowed.
    fn matches(&self, v: &Version) -> bool {
        let order = v.cmp_precedence(&self.version);
        match self.op {
            Op::TildeOrEqual if self.dirty => self.tilde(v),
            Op::TildeOrEqual => order == Ordering::Equal,
            Op::NotEqual => self.not_equal(v),
            Op::Greater => self.greater(v),
            Op::Less => order == Ordering::Less,
            Op::GreaterOrEqual => order != Ordering::Less,
            Op::LessOrEqual => self.less_or_equal(v),
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.cmp_precedence(c) == Ordering::Less {
            return false;
        }
        // `~0.0.0` (and `*`) accept everything.
        if (c.major, c.minor, c.patch) == (0, 0, 0) && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (self.minor_dirty || v.minor == c.minor)
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.cmp_precedence(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        v.minor == 0 && v.patch == c.patch
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.version;
        if !self.dirty {
            return v.cmp_precedence(c) == Ordering::Greater;
        }
        match v.major.cmp(&c.major) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal if self.minor_dirty => false,
            Ordering::Equal if self.patch_dirty => v.minor > c.minor,
            Ordering::Equal => v.cmp_precedence(c) == Ordering::Greater,
        }
    }

    fn less_or_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if !self.dirty {
            return v.cmp_precedence(c) != Ordering::Greater;
        }
        !(v.major > c.major || v.major == c.major && v.minor > c.minor && !self.minor_dirty)
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if self.minor_dirty {
                return false;
            }
            if c.minor != v.minor {
                return true;
            }
            if self.patch_dirty {
                return (!v.pre.is_empty() || !c.pre.is_empty()) && v.pre != c.pre;
            }
            if c.patch != v.patch {
                return true;
            }
        }
        v.cmp_precedence(c) != Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> ChartRange {
        ChartRange::parse(text).unwrap()
    }

    fn v(text: &str) -> Version {
        parse_version(text).unwrap()
    }

    #[test]
    fn a_bare_version_is_exact_unlike_cargo() {
        assert!(range("1.2.3").matches(&v("1.2.3")));
        assert!(!range("1.2.3").matches(&v("1.2.4")));
    }

    #[test]
    fn caret_on_zero_majors_stays_within_the_minor() {
        assert!(range("^0.3").matches(&v("0.3.9")));
        assert!(!range("^0.3").matches(&v("0.4.0")));
    }

    #[test]
    fn pick_prefers_the_exact_spelling_then_the_highest() {
        let versions: Vec<String> = ["0.8.1", "0.9.0", "0.8.0", "1.0.0-rc.1"]
            .map(String::from)
            .to_vec();
        assert_eq!(range("~0.8").pick(&versions).unwrap(), "0.8.1");
        assert_eq!(range("*").pick(&versions).unwrap(), "0.9.0");
        assert_eq!(range(">=1.0.0-0").pick(&versions).unwrap(), "1.0.0-rc.1");
    }
}
