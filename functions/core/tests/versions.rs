//! Chart version ranges mean what they mean to Helm and Argo CD: every case of Masterminds
//! semver's own test tables (`data/masterminds_ranges.tsv`) gives the same answer here.

use berth_core::versions::{ChartRange, parse_version};

const CASES: &str = include_str!("data/masterminds_ranges.tsv");

#[test]
fn every_masterminds_case_matches_as_helm_would() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in CASES.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            [range, "error"] => {
                if ChartRange::parse(range).is_ok() {
                    wrong.push(format!("{range:?} parsed but Masterminds refuses it"));
                }
            }
            [range, version, expected] => {
                let expected = *expected == "true";
                let parsed = ChartRange::parse(range)
                    .unwrap_or_else(|e| panic!("{range:?} does not parse: {e}"));
                let version = parse_version(version).unwrap();
                if parsed.matches(&version) != expected {
                    wrong.push(format!("{range:?} on {version}: expected {expected}"));
                }
            }
            _ => panic!("bad line {line:?}"),
        }
        checked += 1;
    }
    assert!(checked > 200, "only {checked} cases read");
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_differences_from_cargo_named_by_the_brief() {
    let matches = |range: &str, version: &str| {
        ChartRange::parse(range)
            .unwrap()
            .matches(&parse_version(version).unwrap())
    };
    // Cargo reads `1.2.3` as `^1.2.3`; Helm as exactly 1.2.3.
    assert!(!matches("1.2.3", "1.3.0"));
    // Space and comma both mean AND; `||` means OR; hyphen ranges are inclusive.
    assert!(matches(">=1.2 <1.4", "1.3.9"));
    assert!(!matches(">=1.2, <1.4", "1.4.0"));
    assert!(matches("~1.2 || ^3", "3.9.0"));
    assert!(matches("1.2 - 1.4.5", "1.4.5"));
    assert!(matches("1.2.x", "1.2.7"));
    // Prereleases only when the group asks for one, then on any patch (npm: the same patch).
    assert!(!matches(">=0.8.0", "0.9.0-rc.1"));
    assert!(matches(">=0.8.0-0", "0.9.0-rc.1"));
    // `^0.3` stays below 0.4.
    assert!(!matches("^0.3", "0.4.0"));
}
